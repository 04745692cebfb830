// A caching CPU allocator for libtorch: freed tensor buffers are kept, by size, for the next
// tensor of that size, as PyTorch's CUDA allocator does on the GPU.
//
// Why: a training step allocates and frees the same few hundred activation buffers every step.
// Through malloc they came back as fresh pages more often than not (measured in the node
// process: 780 minor page faults for each 3.2 MB tensor made and freed, every time, with glibc's
// mmap threshold raised; a fault costs microseconds in a VM and serialises the OpenMP threads).
// From this cache a buffer's pages stay mapped and warm, so a step after the first faults
// almost nothing in.
//
// Blocks of 64 KiB and more are cached, keyed by their size rounded up to 4 KiB (a training step
// asks for the same sizes every time, so exact sizes hit); smaller ones go straight to malloc,
// which serves them well. What the cache holds while unused is capped (PFT_CPU_CACHE_MB,
// default 2048; 0 leaves libtorch's own allocator in place); `emptyCache()` gives it back.
// Each block has a 64-byte header in front (its size class), so the data stays 64-byte aligned
// and the pointer is its own context, as c10's raw_allocate requires.

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include "engine.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace pft {

namespace {

constexpr size_t kHeader = 64;
constexpr size_t kMinCached = 64 << 10;
constexpr size_t kGranule = 4 << 10;

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> idle;  // size class -> blocks (base pointers)
  size_t idleBytes = 0;
  size_t limit = 0;
  uint64_t hits = 0, misses = 0;
};

// Never destroyed: tensors can be freed while the process exits, after static destructors ran.
Cache& TheCache() {
  static Cache* c = new Cache();
  return *c;
}

void* AllocBase(size_t bytes) {
  void* base = nullptr;
  if (posix_memalign(&base, kHeader, kHeader + bytes) != 0 || !base) throw std::bad_alloc();
  return base;
}

void Release(void* p) {
  if (!p) return;
  char* base = static_cast<char*>(p) - kHeader;
  size_t cls;
  std::memcpy(&cls, base, sizeof cls);
  if (cls) {
    Cache& c = TheCache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.idleBytes + cls <= c.limit) {
      c.idle[cls].push_back(base);
      c.idleBytes += cls;
      return;
    }
  }
  std::free(base);
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &Release, c10::Device(c10::DeviceType::CPU)};
    const size_t cls = n >= kMinCached ? (n + kGranule - 1) / kGranule * kGranule : 0;
    char* base = nullptr;
    if (cls) {
      Cache& c = TheCache();
      std::lock_guard<std::mutex> lock(c.mu);
      auto it = c.idle.find(cls);
      if (it != c.idle.end() && !it->second.empty()) {
        base = static_cast<char*>(it->second.back());
        it->second.pop_back();
        c.idleBytes -= cls;
        ++c.hits;
      } else {
        ++c.misses;
      }
    }
    if (!base) base = static_cast<char*>(AllocBase(cls ? cls : n));
    std::memcpy(base, &cls, sizeof cls);
    void* p = base + kHeader;
    return {p, p, &Release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &Release; }
};

}  // namespace

// Installs the allocator (once, at load) unless PFT_CPU_CACHE_MB=0.
void InstallCachingAllocator() {
  size_t mb = 2048;
  if (const char* v = std::getenv("PFT_CPU_CACHE_MB")) {
    char* end = nullptr;
    const unsigned long long parsed = std::strtoull(v, &end, 10);
    if (end != v && *end == '\0') mb = static_cast<size_t>(parsed);
  }
  if (mb == 0) return;
  TheCache().limit = mb << 20;
  static CachingCpuAllocator allocator;
  c10::SetCPUAllocator(&allocator, /*priority=*/100);
}

CacheStats CachingAllocatorStats() {
  Cache& c = TheCache();
  std::lock_guard<std::mutex> lock(c.mu);
  return {c.limit, c.idleBytes, c.hits, c.misses};
}

// Frees every idle block (the memory in use by live tensors is not touched).
void EmptyCache() {
  Cache& c = TheCache();
  std::vector<void*> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& [cls, list] : c.idle) blocks.insert(blocks.end(), list.begin(), list.end());
    c.idle.clear();
    c.idleBytes = 0;
  }
  for (void* b : blocks) std::free(b);
}

}  // namespace pft
