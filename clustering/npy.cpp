#include "clustering/npy.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "lib/io/atomic_file.h"
#include "lib/util/error.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the .npy code writes and reads host floats as '<f4'");

namespace ladle::clustering {
namespace {

constexpr std::string_view kMagic("\x93NUMPY", 6);
// numpy.lib.format pads the header so that the data starts at a multiple of this (ARRAY_ALIGN).
constexpr std::size_t kAlignment = 64;

// What the header of a 2-D float array says.
struct NpyHeader {
  bool big_endian = false;
  std::size_t item_size = 4;  // 4 (float32) or 8 (float64)
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

// A strict parser of the header's Python dict literal: exactly the keys 'descr', 'fortran_order' and 'shape', each
// once, in any order, with numpy's spelling of their values (numpy.lib.format._read_array_header rejects any
// other key set too).
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}

  NpyHeader parse() {
    NpyHeader header;
    bool have_descr = false, have_order = false, have_shape = false;
    skip_space();
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        mark_seen(have_descr, key);
        parse_descr(header);
      } else if (key == "fortran_order") {
        mark_seen(have_order, key);
        header.fortran_order = parse_bool();
      } else if (key == "shape") {
        mark_seen(have_shape, key);
        header.shape = parse_shape();
      } else {
        fail("unexpected key '" + key + "' (a .npy header has only 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (peek() == ',') {
        ++position_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++position_;
    skip_space();
    if (position_ != text_.size()) fail("unexpected text after the header's closing '}'");
    if (!have_descr || !have_order || !have_shape) {
      fail(std::string("missing key '") + (!have_descr ? "descr" : !have_order ? "fortran_order" : "shape") + "'");
    }
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(source_ + ": invalid .npy header at byte " + std::to_string(position_) + ": " + message);
  }

  char peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }

  void skip_space() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\n')) ++position_;
  }

  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++position_;
  }

  void mark_seen(bool& seen, const std::string& key) const {
    if (seen) fail("key '" + key + "' appears twice");
    seen = true;
  }

  // A Python string literal in single or double quotes, without escapes (numpy's keys and descr never have any).
  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const std::size_t start = ++position_;
    while (position_ < text_.size() && text_[position_] != quote) {
      if (text_[position_] == '\\') fail("escapes in strings are not supported");
      ++position_;
    }
    if (position_ >= text_.size()) fail("unterminated string");
    return std::string(text_.substr(start, position_++ - start));
  }

  // '<f4', '>f4', '<f8' or '>f8'.
  void parse_descr(NpyHeader& header) {
    if (peek() != '\'' && peek() != '"') fail("'descr' is not a string (structured dtypes are not supported)");
    const std::string descr = parse_string();
    if (descr.size() != 3 || (descr[0] != '<' && descr[0] != '>') || descr[1] != 'f' ||
        (descr[2] != '4' && descr[2] != '8')) {
      fail("dtype '" + descr + "' is not float32 or float64 ('<f4', '>f4', '<f8', '>f8')");
    }
    header.big_endian = descr[0] == '>';
    header.item_size = descr[2] == '4' ? 4 : 8;
  }

  bool parse_bool() {
    for (const auto& [word, value] : {std::pair<std::string_view, bool>{"True", true}, {"False", false}}) {
      if (text_.substr(position_, word.size()) == word) {
        position_ += word.size();
        return value;
      }
    }
    fail("'fortran_order' is not True or False");
  }

  std::int64_t parse_dimension() {
    if (peek() < '0' || peek() > '9') fail("expected a non-negative whole number in 'shape'");
    std::int64_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = peek() - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) fail("a dimension in 'shape' is too large");
      value = value * 10 + digit;
      ++position_;
    }
    return value;
  }

  // A Python tuple of whole numbers: "()", "(5,)", "(3, 4)", "(3, 4,)".
  std::vector<std::int64_t> parse_shape() {
    expect('(');
    std::vector<std::int64_t> shape;
    bool trailing_comma = false;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      shape.push_back(parse_dimension());
      skip_space();
      trailing_comma = peek() == ',';
      if (trailing_comma) {
        ++position_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')' in 'shape'");
    }
    if (shape.size() == 1 && !trailing_comma) fail("'shape' is not a tuple (a one-element tuple needs a ',')");
    ++position_;
    return shape;
  }

  std::string_view text_;
  std::string source_;
  std::size_t position_ = 0;
};

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

std::uint32_t little_endian(const unsigned char* bytes, std::size_t count) {
  std::uint32_t value = 0;
  for (std::size_t i = count; i-- > 0;) value = (value << 8) | bytes[i];
  return value;
}

// Host floats from the data bytes, in C order.
std::vector<float> decode_values(const std::vector<unsigned char>& bytes, const NpyHeader& header) {
  const std::size_t count = bytes.size() / header.item_size;
  std::vector<float> values(count);
  unsigned char item[8];
  for (std::size_t i = 0; i < count; ++i) {
    std::memcpy(item, bytes.data() + i * header.item_size, header.item_size);
    if (header.big_endian) std::reverse(item, item + header.item_size);
    if (header.item_size == 4) {
      std::memcpy(&values[i], item, 4);
    } else {
      double value;
      std::memcpy(&value, item, 8);
      values[i] = static_cast<float>(value);
    }
  }
  return values;
}

std::vector<float> transpose(const std::vector<float>& column_major, std::int64_t rows, std::int64_t cols) {
  std::vector<float> row_major(column_major.size());
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < cols; ++j) {
      row_major[static_cast<std::size_t>(i * cols + j)] = column_major[static_cast<std::size_t>(j * rows + i)];
    }
  }
  return row_major;
}

}  // namespace

void write_npy(const std::filesystem::path& path, const FloatMatrix& matrix) {
  if (matrix.rows < 0 || matrix.cols < 0 ||
      matrix.values.size() != static_cast<std::size_t>(matrix.rows) * static_cast<std::size_t>(matrix.cols)) {
    throw Error(path.string() + ": the matrix's " + std::to_string(matrix.values.size()) + " values do not fill " +
                std::to_string(matrix.rows) + " x " + std::to_string(matrix.cols));
  }
  const std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text({matrix.rows, matrix.cols}) + ", }";
  const std::size_t preamble = kMagic.size() + 2 + 2;  // magic, version 1.0, uint16 header length
  const std::size_t padding = (kAlignment - (preamble + dict.size() + 1) % kAlignment) % kAlignment;
  const std::string header = dict + std::string(padding, ' ') + "\n";
  std::string prefix(kMagic);
  prefix += '\x01';
  prefix += '\x00';
  prefix += static_cast<char>(header.size() & 0xff);
  prefix += static_cast<char>(header.size() >> 8);
  prefix += header;

  io::AtomicFile file(path);
  file.write(prefix.data(), prefix.size());
  file.write(matrix.values.data(), matrix.values.size() * sizeof(float));
  file.commit();
}

FloatMatrix read_npy(const std::filesystem::path& path) {
  const std::string source = path.string();
  std::error_code error;
  const std::uintmax_t file_size = std::filesystem::file_size(path, error);
  if (error) throw Error(source + ": cannot read: " + error.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(source + ": cannot open for reading");

  unsigned char preamble[12];
  const std::size_t fixed = kMagic.size() + 2;
  if (file_size < fixed + 2 || !in.read(reinterpret_cast<char*>(preamble), fixed)) {
    throw Error(source + ": too short to be a .npy file (" + std::to_string(file_size) + " bytes)");
  }
  if (std::memcmp(preamble, kMagic.data(), kMagic.size()) != 0) {
    throw Error(source + ": not a .npy file (it does not start with \"\\x93NUMPY\")");
  }
  const int major = preamble[6], minor = preamble[7];
  if (major < 1 || major > 3 || minor != 0) {
    throw Error(source + ": unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                " (1.0, 2.0 and 3.0 are known)");
  }
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  if (file_size < fixed + length_bytes || !in.read(reinterpret_cast<char*>(preamble + fixed), length_bytes)) {
    throw Error(source + ": truncated .npy preamble");
  }
  const std::uint64_t header_length = little_endian(preamble + fixed, length_bytes);
  const std::uint64_t data_offset = fixed + length_bytes + header_length;
  if (data_offset > file_size) {
    throw Error(source + ": .npy header length " + std::to_string(header_length) + " runs past the end of the " +
                std::to_string(file_size) + "-byte file");
  }
  std::string header_text(header_length, '\0');
  if (!in.read(header_text.data(), static_cast<std::streamsize>(header_length))) {
    throw Error(source + ": cannot read the .npy header");
  }
  if (header_text.empty() || header_text.back() != '\n') {
    throw Error(source + ": invalid .npy header: it does not end with a newline");
  }
  const NpyHeader header = HeaderParser(header_text, source).parse();

  if (header.shape.size() != 2) {
    throw Error(source + ": shape " + shape_text(header.shape) + " is not 2-D (points, dimensions)");
  }
  const std::int64_t rows = header.shape[0], cols = header.shape[1];
  std::uint64_t count = 0, data_bytes = 0;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols), &count) ||
      __builtin_mul_overflow(count, header.item_size, &data_bytes) || data_bytes != file_size - data_offset) {
    throw Error(source + ": shape " + shape_text(header.shape) + " of " + std::to_string(header.item_size) +
                "-byte values does not match the " + std::to_string(file_size - data_offset) +
                " data bytes after the header");
  }

  FloatMatrix matrix;
  matrix.rows = rows;
  matrix.cols = cols;
  if (!header.big_endian && header.item_size == 4) {
    matrix.values.resize(count);
    if (!in.read(reinterpret_cast<char*>(matrix.values.data()), static_cast<std::streamsize>(data_bytes))) {
      throw Error(source + ": cannot read the .npy data");
    }
  } else {
    std::vector<unsigned char> bytes(data_bytes);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(data_bytes))) {
      throw Error(source + ": cannot read the .npy data");
    }
    matrix.values = decode_values(bytes, header);
  }
  if (header.fortran_order) matrix.values = transpose(matrix.values, rows, cols);
  return matrix;
}

}  // namespace ladle::clustering
