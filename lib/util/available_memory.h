// The memory this machine can give to new work without swapping: /proc/meminfo's MemAvailable (Linux >= 3.14), the
// kernel's estimate of free memory plus the page cache and slab memory it could reclaim.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ladle {

// MemAvailable in bytes; nullopt when /proc/meminfo cannot be read or has no MemAvailable line.
std::optional<std::uint64_t> available_memory_bytes();

// MemAvailable in bytes from the text of a /proc/meminfo ("MemAvailable:    1234 kB" lines); nullopt when absent.
std::optional<std::uint64_t> parse_mem_available(const std::string& meminfo);

}  // namespace ladle
