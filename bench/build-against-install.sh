# Sourced by the benchmark scripts: builds a benchmark's own CMake project (the folder of the calling script)
# against an installed copy of a ladle build tree, as a user's project would use ladle.
#   build_against_installed_ladle LADLE_BUILD_DIR BENCH_SOURCE_DIR WORK
# Installs into WORK/prefix and builds into WORK/build; each step's log is in WORK and printed when it fails.
build_against_installed_ladle() {
  local ladle_build=$1 source=$2 work=$3
  mkdir -p "$work"
  cmake --install "$ladle_build" --prefix "$work/prefix" > "$work/install.log" || { cat "$work/install.log"; exit 1; }
  cmake -S "$source" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" \
    > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
  cmake --build "$work/build" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
}
