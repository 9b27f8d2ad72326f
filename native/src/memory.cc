// Shared memory for blobs: sealed memfd arenas mapped as external ArrayBuffers.
#include "memory.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include <v8.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <unordered_map>

#include "errors.h"

namespace airlock {
namespace {

// One mmap'd region behind an external ArrayBuffer. Whoever comes first, an explicit unmap()
// or the garbage collector's finalizer, unmaps it; the other does nothing.
struct Mapping {
  void* address;
  size_t length;
  std::atomic<bool> unmapped{false};
};

std::unordered_map<void*, Mapping*> mappings;

bool ArgsAreNumbers(const Napi::CallbackInfo& info, size_t count, const char* usage) {
  for (size_t i = 0; i < count; i++) {
    if (info.Length() <= i || !info[i].IsNumber()) {
      Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

// memfdCreate(name, size): a sealed memfd of `size` bytes (sparse: pages cost nothing until
// touched). Sealed against shrinking and growing, so a peer cannot make our mapping SIGBUS.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "memfdCreate(name: string, size: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  off_t size = static_cast<off_t>(info[1].As<Napi::Number>().Int64Value());
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return ThrowErrno(env, "memfd_create");
  if (ftruncate(fd, size) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "ftruncate", err);
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "fcntl(F_ADD_SEALS)", err);
  }
  return Napi::Number::New(env, fd);
}

// reopen(fd, writable): a new descriptor for the same memfd. A read-only one cannot be mapped
// writable or made writable by mprotect: that is what lets a worker read but never write.
Napi::Value Reopen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsAreNumbers(info, 1, "reopen(fd: number, writable: boolean)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool writable = info.Length() > 1 && info[1].ToBoolean();
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  int reopened = open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (reopened < 0) return ThrowErrno(env, "open(/proc/self/fd)");
  return Napi::Number::New(env, reopened);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsAreNumbers(info, 1, "close(fd: number)")) return env.Undefined();
  if (close(info[0].As<Napi::Number>().Int32Value()) != 0) return ThrowErrno(env, "close");
  return env.Undefined();
}

void Unmap(Mapping* mapping) {
  if (!mapping->unmapped.exchange(true)) munmap(mapping->address, mapping->length);
}

// The address may already belong to a newer mapping (munmap lets mmap reuse it): only erase
// the registry entry if it is still this mapping's.
void Forget(Mapping* mapping) {
  auto found = mappings.find(mapping->address);
  if (found != mappings.end() && found->second == mapping) mappings.erase(found);
}

void FinalizeMapping(napi_env, void* data, void*) {
  auto* mapping = static_cast<Mapping*>(data);
  Forget(mapping);
  Unmap(mapping);
  delete mapping;
}

// An ArrayBuffer over the mapping that V8 does not count as memory it could free. An external
// ArrayBuffer made through N-API counts its whole length as external memory, and a pool holds
// gigabytes of arenas (1 GiB each, only pages written cost anything): V8 then treats the heap
// as under pressure, its scavenges keep about a quarter of the young generation alive instead
// of 2%, and small calls cost 40-60% more CPU in the caller (see the README's Benchmarks).
// V8 does not count a backing store whose deleter is EmptyDeleter, so the mapping is given one
// and is unmapped instead by a finalizer on the ArrayBuffer object, or by unmap(). Such a
// buffer must not be transferred to another thread: its memory goes with this object.
napi_value UncountedArrayBuffer(Napi::Env env, Mapping* mapping) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(mapping->address, mapping->length, v8::BackingStore::EmptyDeleter, nullptr);
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  // A napi_value is a V8 handle's slot, as Node's own v8impl::JsValueFromV8LocalValue makes it.
  napi_value value = reinterpret_cast<napi_value>(*buffer);
  if (napi_add_finalizer(env, value, mapping, FinalizeMapping, nullptr, nullptr) != napi_ok) {
    FinalizeMapping(env, mapping, nullptr);
    return nullptr;
  }
  return value;
}

// map(fd, size, writable): the memfd as an ArrayBuffer over shared memory, no copy.
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsAreNumbers(info, 2, "map(fd: number, size: number, writable: boolean)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  size_t size = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  bool writable = info.Length() > 2 && info[2].ToBoolean();
  void* address = mmap(nullptr, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) return ThrowErrno(env, "mmap");
  auto* mapping = new Mapping{address, size};
  mappings[address] = mapping;
  napi_value buffer = UncountedArrayBuffer(env, mapping);
  if (buffer == nullptr) {
    Napi::Error::New(env, "map: could not attach a finalizer to the mapping").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::ArrayBuffer(env, buffer);
}

// unmap(buffer): detaches the ArrayBuffer first (every view on it becomes empty, so no JS can
// touch the memory again), then unmaps it. Unmapping under live views would crash.
Napi::Value UnmapBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    Napi::TypeError::New(env, "unmap(buffer: ArrayBuffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  void* address = buffer.Data();
  auto found = mappings.find(address);
  if (found == mappings.end()) {
    Napi::Error::New(env, "unmap: this ArrayBuffer is not a mapping made by map()").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Mapping* mapping = found->second;
  buffer.Detach();
  Forget(mapping);
  Unmap(mapping);
  return env.Undefined();
}

// punchHole(fd, offset, length): gives the pages of a free range back to the system; they read
// as zeros and cost a page fault when touched again.
Napi::Value PunchHole(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsAreNumbers(info, 3, "punchHole(fd: number, offset: number, length: number)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  off_t offset = static_cast<off_t>(info[1].As<Napi::Number>().Int64Value());
  off_t length = static_cast<off_t>(info[2].As<Napi::Number>().Int64Value());
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) != 0) return ThrowErrno(env, "fallocate(PUNCH_HOLE)");
  return env.Undefined();
}

// ---- telling a write into a read-only argument view from any other SIGSEGV ----

struct Region {
  uintptr_t start;
  uintptr_t end;
};
constexpr int kMaxRegions = 8;
Region read_only_regions[kMaxRegions];
std::atomic<int> region_count{0};
struct sigaction previous_segv;

void OnSegv(int sig, siginfo_t* si, void* context) {
  uintptr_t address = reinterpret_cast<uintptr_t>(si->si_addr);
  int count = region_count.load();
  for (int i = 0; i < count; i++) {
    if (address >= read_only_regions[i].start && address < read_only_regions[i].end) {
      char message[160];
      int n = snprintf(message, sizeof message,
                       "airlock: SIGSEGV: the handler wrote into a read-only argument view (arena offset %lu)\n",
                       static_cast<unsigned long>(address - read_only_regions[i].start));
      if (n > 0) (void)!write(2, message, static_cast<size_t>(n));
      break;
    }
  }
  // Hand the fault on: V8's own handler (WebAssembly bounds checks), else the default action.
  if (previous_segv.sa_flags & SA_SIGINFO) {
    if (previous_segv.sa_sigaction != nullptr) return previous_segv.sa_sigaction(sig, si, context);
  } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN && previous_segv.sa_handler != nullptr) {
    return previous_segv.sa_handler(sig);
  }
  signal(SIGSEGV, SIG_DFL);  // returning re-executes the faulting write, which now kills us
}

// reportWritesInto(buffer): makes a SIGSEGV caused by writing into `buffer` say so on stderr.
Napi::Value ReportWritesInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    Napi::TypeError::New(env, "reportWritesInto(buffer: ArrayBuffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  int index = region_count.load();
  if (index >= kMaxRegions) return env.Undefined();
  uintptr_t start = reinterpret_cast<uintptr_t>(buffer.Data());
  read_only_regions[index] = {start, start + buffer.ByteLength()};
  region_count.store(index + 1);
  if (index == 0) {
    struct sigaction action = {};
    action.sa_sigaction = OnSegv;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, &previous_segv) != 0) return ThrowErrno(env, "sigaction(SIGSEGV)");
  }
  return env.Undefined();
}

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("reopen", Napi::Function::New(env, Reopen, "reopen"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("map", Napi::Function::New(env, Map, "map"));
  exports.Set("unmap", Napi::Function::New(env, UnmapBuffer, "unmap"));
  exports.Set("punchHole", Napi::Function::New(env, PunchHole, "punchHole"));
  exports.Set("reportWritesInto", Napi::Function::New(env, ReportWritesInto, "reportWritesInto"));
}

}  // namespace airlock
