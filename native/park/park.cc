// park: the datapath thread's wait for frames (poll()) and its clock, as plain V8 callbacks.
//
// Why not koffi, which makes every other system call: after a quiet spell this VM's caches and
// TLBs are cold, and a koffi call walks a lot of memory (N-API, koffi's argument machinery, its
// own stack). Measured from poll()'s return in the kernel (ftrace sys_exit) to the first clock
// reading in JS, after 100 ms asleep: poll and clock_gettime through koffi 25-29 µs, through this
// addon 11-12 µs, through an N-API addon 17 µs, from C 8 µs. A frame that wakes the parked
// datapath waits all of that before JS sees it. Hot, either way costs a fraction of a µs.
//
// Per thread (main thread or worker: each loads its own instance), nothing allocated per call:
//   watch(u8)           register a struct pollfd array (a Buffer's bytes, kept alive here);
//                       returns its id
//   wait(id, n, ms)     poll() on the first n entries; poll()'s result (-1: error, EINTR too)
//   clock(f64)          register the array tick() writes into (at least 2 entries)
//   tick()              CLOCK_MONOTONIC into that array: [0] in ms, [1] in whole ns
#include <node.h>
#include <poll.h>
#include <time.h>
#include <cstddef>
#include <memory>
#include <vector>

namespace {

struct Registered {
  std::shared_ptr<v8::BackingStore> store;
  void* data;
  size_t length;  // bytes
};

// The addon's per-context (per-thread) state.
struct PerContext {
  std::vector<Registered> pollfds;
  Registered clock{nullptr, nullptr, 0};
};

PerContext* Ctx(const v8::FunctionCallbackInfo<v8::Value>& args) {
  return static_cast<PerContext*>(args.Data().As<v8::External>()->Value());
}

void Throw(v8::Isolate* isolate, const char* what) {
  isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8(isolate, what).ToLocalChecked()));
}

Registered Keep(v8::Local<v8::ArrayBufferView> view) {
  auto store = view->Buffer()->GetBackingStore();
  void* data = static_cast<char*>(store->Data()) + view->ByteOffset();
  return {std::move(store), data, view->ByteLength()};
}

void Watch(const v8::FunctionCallbackInfo<v8::Value>& args) {
  if (args.Length() < 1 || !args[0]->IsUint8Array() || args[0].As<v8::Uint8Array>()->ByteLength() < sizeof(struct pollfd)) {
    return Throw(args.GetIsolate(), "park: watch(Uint8Array of struct pollfd)");
  }
  auto* ctx = Ctx(args);
  ctx->pollfds.push_back(Keep(args[0].As<v8::Uint8Array>()));
  args.GetReturnValue().Set(static_cast<int32_t>(ctx->pollfds.size() - 1));
}

void Wait(const v8::FunctionCallbackInfo<v8::Value>& args) {
  auto* ctx = Ctx(args);
  if (args.Length() < 3 || !args[0]->IsInt32() || !args[1]->IsInt32() || !args[2]->IsNumber()) {
    return Throw(args.GetIsolate(), "park: wait(id, nfds, timeoutMs)");
  }
  int32_t id = args[0].As<v8::Int32>()->Value();
  int32_t n = args[1].As<v8::Int32>()->Value();
  if (id < 0 || static_cast<size_t>(id) >= ctx->pollfds.size() || n < 0 ||
      static_cast<size_t>(n) * sizeof(struct pollfd) > ctx->pollfds[id].length) {
    return Throw(args.GetIsolate(), "park: wait: unknown id, or more entries than it holds");
  }
  // As poll() takes it: a whole number of ms (a fraction rounds down), negative: no timeout.
  double v = args[2].As<v8::Number>()->Value();
  if (v != v) return Throw(args.GetIsolate(), "park: wait: timeout is NaN");
  int ms = v < 0 ? -1 : v >= 2147483647.0 ? 2147483647 : static_cast<int>(v);
  args.GetReturnValue().Set(static_cast<int32_t>(poll(static_cast<struct pollfd*>(ctx->pollfds[id].data), n, ms)));
}

void Clock(const v8::FunctionCallbackInfo<v8::Value>& args) {
  if (args.Length() < 1 || !args[0]->IsFloat64Array() || args[0].As<v8::Float64Array>()->Length() < 2) {
    return Throw(args.GetIsolate(), "park: clock(Float64Array of 2)");
  }
  Ctx(args)->clock = Keep(args[0].As<v8::Float64Array>());
}

void Tick(const v8::FunctionCallbackInfo<v8::Value>& args) {
  auto* out = static_cast<double*>(Ctx(args)->clock.data);
  if (out == nullptr) return Throw(args.GetIsolate(), "park: tick() before clock()");
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  out[0] = static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  out[1] = static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

void FreeContext(void* arg) { delete static_cast<PerContext*>(arg); }

void Export(v8::Local<v8::Context> context, v8::Local<v8::Object> exports, v8::Local<v8::External> data, const char* name,
            v8::FunctionCallback fn) {
  v8::Isolate* isolate = context->GetIsolate();
  auto f = v8::FunctionTemplate::New(isolate, fn, data)->GetFunction(context).ToLocalChecked();
  exports->Set(context, v8::String::NewFromUtf8(isolate, name).ToLocalChecked(), f).Check();
}

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  v8::Isolate* isolate = context->GetIsolate();
  auto* ctx = new PerContext();
  node::AddEnvironmentCleanupHook(isolate, FreeContext, ctx);
  v8::Local<v8::External> data = v8::External::New(isolate, ctx);
  Export(context, exports, data, "watch", Watch);
  Export(context, exports, data, "wait", Wait);
  Export(context, exports, data, "clock", Clock);
  Export(context, exports, data, "tick", Tick);
}
