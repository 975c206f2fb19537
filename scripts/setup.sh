#!/usr/bin/env bash
# Installs every Debian package ladle needs to build, test and run its experiments, and makes libtorch and faiss
# use OpenBLAS instead of Debian's reference BLAS (23-30x slower here, see docs/building.md §2).
# Idempotent and non-interactive; run as root or with sudo.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang git
  # the fuzz targets (scripts/fuzz.sh): clang's libFuzzer and sanitizer runtimes, and its OpenMP
  libclang-rt-dev libomp-dev
  # the chosen dependencies
  libtorch-dev libfaiss-dev libsentencepiece-dev sentencepiece libboost-log-dev libgtest-dev libgmock-dev
  libgloo-dev
  # configuration, JSON and command line
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  # Hugging Face tokenizers: Oniguruma (their regex engine) and ICU (Unicode normalization)
  libonig-dev libicu-dev
  # checkpoint checksums (XXH3-128)
  libxxhash-dev
  # fast BLAS (openmp flavour: the pthread flavour fights libtorch's OpenMP threads)
  libopenblas0-openmp
  # reference implementations for tests, plots for reports
  python3 python3-torch python3-numpy python3-jinja2 gnuplot-nox
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: run as root or install sudo" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all ${#packages[@]} packages present"
fi

# Point libblas.so.3 (what libtorch and faiss load) at OpenBLAS, then check what the loader really resolves.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
openblas_blas=$(update-alternatives --list "libblas.so.3-${arch}" 2>/dev/null | grep openblas | grep openmp | head -n1 || true)
[ -n "$openblas_blas" ] || { echo "setup.sh: no OpenBLAS (openmp) alternative for libblas.so.3-${arch}" >&2; exit 1; }
"${sudo_cmd[@]}" update-alternatives --set "libblas.so.3-${arch}" "$openblas_blas" >/dev/null
openblas_lapack=$(update-alternatives --list "liblapack.so.3-${arch}" 2>/dev/null | grep openblas | grep openmp | head -n1 || true)
[ -z "$openblas_lapack" ] || "${sudo_cmd[@]}" update-alternatives --set "liblapack.so.3-${arch}" "$openblas_lapack" >/dev/null

torch_cpu=$(ls /usr/lib/"${arch}"/libtorch_cpu.so* 2>/dev/null | head -n1)
resolved=$(ldd "$torch_cpu" | awk '/libblas\.so\.3/ {print $3}')
real=$(readlink -f "$resolved")
case "$real" in
  *openblas*) echo "setup.sh: libtorch's BLAS is $real" ;;
  *) echo "setup.sh: libtorch still resolves libblas.so.3 to '$real', not OpenBLAS (reference BLAS is ~25x slower)" >&2
     exit 1 ;;
esac
