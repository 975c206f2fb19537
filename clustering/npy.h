// Reading and writing matrices in NumPy's .npy format (numpy.save / numpy.load), so that embeddings computed once
// can be clustered again, and inspected from Python, without re-embedding.
//
// The format is NumPy's "NEP 1" file format as numpy.lib.format documents it: the magic string "\x93NUMPY", a
// major and minor version byte, the header length (little-endian uint16 in version 1.0, uint32 in 2.0 and 3.0),
// then an ASCII (3.0: UTF-8) Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded
// with spaces and ended by '\n' so that the data starts at a multiple of 64 bytes, then the raw array data.
#pragma once

#include <filesystem>

#include "clustering/float_matrix.h"

namespace ladle::clustering {

// Writes a 2-D float32 array ('<f4', C order, shape (rows, cols)) in version 1.0, atomically (io/atomic_file.h).
// Throws ladle::Error naming the path when it cannot be written.
void write_npy(const std::filesystem::path& path, const FloatMatrix& matrix);

// Reads a 2-D array of float32 or float64 in either byte order and either memory order (float64 is rounded to
// float32). The file is treated as hostile: the magic, version, header length, every header key and value, the
// shape's size and the file's exact length are checked before anything is allocated. Throws ladle::Error naming
// the path and what is wrong (e.g. "x.npy: shape (3,) is not 2-D (points, dimensions)").
FloatMatrix read_npy(const std::filesystem::path& path);

}  // namespace ladle::clustering
