// parcnn/core/aligned_buffer.hpp — a 64-byte-aligned, uninitialised, growable array.
//
// Used for tensor storage and per-worker scratch. 64 bytes is one cache line and one AVX-512
// register, so a kernel may use aligned loads on the start of every buffer.
#pragma once

#include <cstddef>
#include <cstring>
#include <new>
#include <utility>

namespace parcnn {

inline constexpr std::size_t storage_alignment = 64;

template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t count) { reset(count); }
  AlignedBuffer(const AlignedBuffer& other) {
    reset(other.size_);
    if (size_) std::memcpy(data_, other.data_, size_ * sizeof(T));
  }
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~AlignedBuffer() { release(); }

  // Makes room for at least `count` elements, keeping nothing. Allocates only when growing, so a
  // buffer reused at a steady shape allocates once.
  T* reserve(std::size_t count) {
    if (count > size_) reset(count);
    return data_;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  void reset(std::size_t count) {
    release();
    if (count == 0) return;
    if (count > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    data_ = static_cast<T*>(::operator new(count * sizeof(T), std::align_val_t(storage_alignment)));
    size_ = count;
  }
  void release() {
    if (data_) ::operator delete(data_, std::align_val_t(storage_alignment));
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace parcnn
