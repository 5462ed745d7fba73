// gc-watch: this isolate's garbage collections counted in C++, in a Float64Array that JS reads.
//
// Why: node 20's PerformanceObserver 'gc' entries are built in JS at every collection, with two
// deprecation getters whose wrapper functions leave maps in V8's old space (~3 KB a collection),
// and v8.GCProfiler keeps every stopped profiler recording until its wrapper is collected. Here
// a collection costs two clock reads and a few stores, and nothing is allocated on the JS heap.
//
// attach(f64) registers GC prologue/epilogue callbacks on the calling thread's isolate (main
// thread or worker: each attaches its own) that write into f64's memory; the thread's exit
// removes them. Layout of f64, all written only by the callbacks, on the
// isolate's own thread (V8 runs prologue and epilogue callbacks there), so JS sees them between
// its own statements:
//   [0..3]  collections by kind: minor (scavenge, young mark-compact), major (mark-sweep-compact),
//           incremental (marking steps finalized), weak callbacks
//   [4]     total pause, ms        [5] longest pause, ms
//   [6]     records written so far (the ring below holds the newest RING of them)
//   [7]     reserved
//   [8 + 2i, 9 + 2i]  ring slot i: kind (0..3), pause ms
#include <node.h>
#include <uv.h>
#include <memory>

namespace {

constexpr int kHeader = 8;

struct Watch {
  std::shared_ptr<v8::BackingStore> store;
  double* slots;
  size_t ring;  // ring capacity in records
  v8::Isolate* isolate;
  v8::GCType inside = static_cast<v8::GCType>(0);
  uint64_t start_ns = 0;
};

int KindOf(v8::GCType t) {
  switch (static_cast<int>(t)) {
    case v8::kGCTypeScavenge:
    case 2:  // the young generation's mark-compact: kGCTypeMinorMarkCompact, or MinorMarkSweep in newer V8
      return 0;
    case v8::kGCTypeMarkSweepCompact:
      return 1;
    case v8::kGCTypeIncrementalMarking:
      return 2;
    default:
      return 3;
  }
}

void Before(v8::Isolate*, v8::GCType type, v8::GCCallbackFlags, void* data) {
  auto* w = static_cast<Watch*>(data);
  if (w->inside != 0) return;  // nested: the outer collection is timed
  w->inside = type;
  w->start_ns = uv_hrtime();
}

void After(v8::Isolate*, v8::GCType type, v8::GCCallbackFlags, void* data) {
  auto* w = static_cast<Watch*>(data);
  if (w->inside != type) return;
  w->inside = static_cast<v8::GCType>(0);
  double ms = static_cast<double>(uv_hrtime() - w->start_ns) / 1e6;
  int kind = KindOf(type);
  double* s = w->slots;
  s[kind] += 1;
  s[4] += ms;
  if (ms > s[5]) s[5] = ms;
  size_t i = static_cast<size_t>(s[6]) % w->ring;
  s[kHeader + 2 * i] = kind;
  s[kHeader + 2 * i + 1] = ms;
  s[6] += 1;
}

// At the thread's exit.
void Cleanup(void* arg) {
  auto* w = static_cast<Watch*>(arg);
  w->isolate->RemoveGCPrologueCallback(Before, w);
  w->isolate->RemoveGCEpilogueCallback(After, w);
  delete w;
}

// The addon's per-context data: this thread's watch, once attached (one per thread).
struct PerContext {
  Watch* watch = nullptr;
};

void Attach(const v8::FunctionCallbackInfo<v8::Value>& args) {
  auto* ctx = static_cast<PerContext*>(args.Data().As<v8::External>()->Value());
  v8::Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsFloat64Array()) {
    isolate->ThrowException(v8::Exception::TypeError(
        v8::String::NewFromUtf8Literal(isolate, "gc-watch: attach(Float64Array)")));
    return;
  }
  auto arr = args[0].As<v8::Float64Array>();
  size_t len = arr->Length();
  if (len < kHeader + 2 || ctx->watch != nullptr) {
    isolate->ThrowException(v8::Exception::Error(v8::String::NewFromUtf8Literal(
        isolate, "gc-watch: array too short, or this thread already attached")));
    return;
  }
  auto* w = new Watch();
  w->store = arr->Buffer()->GetBackingStore();
  w->slots = reinterpret_cast<double*>(static_cast<char*>(w->store->Data()) + arr->ByteOffset());
  w->ring = (len - kHeader) / 2;
  w->isolate = isolate;
  isolate->AddGCPrologueCallback(Before, w);
  isolate->AddGCEpilogueCallback(After, w);
  ctx->watch = w;
  node::AddEnvironmentCleanupHook(isolate, Cleanup, w);
}

void FreeContext(void* arg) { delete static_cast<PerContext*>(arg); }

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  v8::Isolate* isolate = context->GetIsolate();
  auto* ctx = new PerContext();
  node::AddEnvironmentCleanupHook(isolate, FreeContext, ctx);
  v8::Local<v8::External> data = v8::External::New(isolate, ctx);
  v8::Local<v8::Function> attach = v8::FunctionTemplate::New(isolate, Attach, data)->GetFunction(context).ToLocalChecked();
  exports->Set(context, v8::String::NewFromUtf8Literal(isolate, "attach"), attach).Check();
}
