// pft's native engine: a thin N-API binding over libtorch (ATen + autograd).
//
// Shape of the binding (after tch-rs' torch_api.cpp):
//  - a tensor crosses into JS as an External holding a `Box` (an at::Tensor plus accounting);
//  - every exported function is wrapped by DEF(), which turns any C++/c10 exception into a
//    one-line JS Error prefixed with the op name, so bad input never crashes the process;
//  - no model logic lives here: only tensor ops, autograd, modes and runtime facts.
//
// Ownership: JS owns each Box. `dispose` frees the tensor at once (the Box stays, marked
// disposed, so later use is a clear error); the GC finalizer frees whatever was not disposed.
// Native bytes are reported to V8 with AdjustExternalMemory so the GC sees them, but only for
// tensors whose lifetime the GC decides (made outside any scope, kept, or returned out of the
// outermost scope): JS calls `account` for those. A scope frees its tensors itself, and telling
// V8 about them made it run a full mark-compact every ~70 ms of a forward pass (measured) to
// collect memory it could not free.

#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "engine.h"

#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr uint32_t kBoxMagic = 0x70667442;  // "pftB"

struct Box {
  uint32_t magic = kBoxMagic;
  at::Tensor t;
  int64_t bytes = 0;
};

int64_t g_live = 0;
int64_t g_accounted = 0;  // bytes reported to V8 (tensors the GC owns)

int64_t accountedBytes(const at::Tensor& t) {
  if (!t.defined() || !t.device().is_cpu()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

void releaseBox(Napi::Env env, Box* b) {
  if (!b->t.defined()) return;
  if (b->bytes) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -b->bytes);
    g_accounted -= b->bytes;
  }
  b->t.reset();
  b->bytes = 0;
  --g_live;
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  auto* b = new Box();
  b->t = std::move(t);
  ++g_live;
  return Napi::External<Box>::New(env, b, [](Napi::Env env, Box* b) {
    releaseBox(env, b);
    delete b;
  });
}

Napi::Array WrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); ++i) arr.Set(static_cast<uint32_t>(i), Wrap(env, ts[i]));
  return arr;
}

[[noreturn]] void Fail(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

Box* BoxOf(Napi::Env env, const Napi::Value& v, size_t i) {
  if (!v.IsExternal()) Fail(env, "argument " + std::to_string(i) + " is not a tensor");
  auto* b = v.As<Napi::External<Box>>().Data();
  if (!b || b->magic != kBoxMagic) Fail(env, "argument " + std::to_string(i) + " is not a tensor");
  return b;
}

at::Tensor& T(const Napi::CallbackInfo& info, size_t i) {
  Box* b = BoxOf(info.Env(), info[i], i);
  if (!b->t.defined()) Fail(info.Env(), "tensor used after dispose()");
  return b->t;
}

bool Absent(const Napi::CallbackInfo& info, size_t i) { return info.Length() <= i || info[i].IsNull() || info[i].IsUndefined(); }

c10::optional<at::Tensor> OptT(const Napi::CallbackInfo& info, size_t i) {
  if (Absent(info, i)) return c10::nullopt;
  return T(info, i);
}

double Num(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) Fail(info.Env(), "argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

int64_t Int(const Napi::CallbackInfo& info, size_t i) {
  double d = Num(info, i);
  if (std::floor(d) != d) Fail(info.Env(), "argument " + std::to_string(i) + " must be an integer");
  return static_cast<int64_t>(d);
}

bool Bool(const Napi::CallbackInfo& info, size_t i, bool dflt = false) {
  if (Absent(info, i)) return dflt;
  return info[i].ToBoolean().Value();
}

std::string Str(const Napi::CallbackInfo& info, size_t i, const char* dflt = "") {
  if (Absent(info, i)) return dflt;
  if (!info[i].IsString()) Fail(info.Env(), "argument " + std::to_string(i) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::vector<int64_t> Ints(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i) Fail(info.Env(), "argument " + std::to_string(i) + " must be an array of integers");
  if (info[i].IsNumber()) return {Int(info, i)};
  if (!info[i].IsArray()) Fail(info.Env(), "argument " + std::to_string(i) + " must be an array of integers");
  auto arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr[k];
    if (!v.IsNumber()) Fail(info.Env(), "argument " + std::to_string(i) + " must be an array of integers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::floor(d) != d) Fail(info.Env(), "argument " + std::to_string(i) + " must be an array of integers");
    out[k] = static_cast<int64_t>(d);
  }
  return out;
}

c10::optional<std::vector<int64_t>> OptInts(const Napi::CallbackInfo& info, size_t i) {
  if (Absent(info, i)) return c10::nullopt;
  return Ints(info, i);
}

std::vector<at::Tensor> Tensors(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsArray()) Fail(info.Env(), "argument " + std::to_string(i) + " must be an array of tensors");
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Box* b = BoxOf(info.Env(), arr[k], i);
    if (!b->t.defined()) Fail(info.Env(), "tensor used after dispose()");
    out.push_back(b->t);
  }
  return out;
}

bool IsScalar(const Napi::Value& v) { return v.IsNumber() || v.IsBoolean(); }

// Integral JS numbers become integer scalars so that `intTensor.add(1)` stays integral, as in Python.
at::Scalar Sc(const Napi::CallbackInfo& info, size_t i) {
  const Napi::Value v = info[i];
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  if (!v.IsNumber()) Fail(info.Env(), "argument " + std::to_string(i) + " must be a number or a tensor");
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e15) return at::Scalar(static_cast<int64_t>(d));
  return at::Scalar(d);
}

c10::optional<at::Scalar> OptSc(const Napi::CallbackInfo& info, size_t i) {
  if (Absent(info, i)) return c10::nullopt;
  return Sc(info, i);
}

at::ScalarType ParseDType(Napi::Env env, const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "float16") return at::kHalf;
  if (s == "int64") return at::kLong;
  if (s == "int32") return at::kInt;
  if (s == "int16") return at::kShort;
  if (s == "int8") return at::kChar;
  if (s == "uint8") return at::kByte;
  if (s == "bool") return at::kBool;
  Fail(env, "unknown dtype '" + s + "'");
}

const char* DTypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return "unsupported";
  }
}

at::ScalarType DT(const Napi::CallbackInfo& info, size_t i) { return ParseDType(info.Env(), Str(info, i, "float32")); }

c10::optional<at::ScalarType> OptDT(const Napi::CallbackInfo& info, size_t i) {
  if (Absent(info, i)) return c10::nullopt;
  return DT(info, i);
}

at::Device Dev(const Napi::CallbackInfo& info, size_t i) {
  std::string s = Str(info, i, "cpu");
  try {
    return at::Device(s);
  } catch (const c10::Error&) {
    Fail(info.Env(), "unknown device '" + s + "'");
  }
}

at::TensorOptions Opts(const Napi::CallbackInfo& info, size_t dtypeArg, size_t deviceArg) {
  return at::TensorOptions().dtype(DT(info, dtypeArg)).device(Dev(info, deviceArg));
}

int64_t Reduction(const Napi::CallbackInfo& info, size_t i) {
  std::string r = Str(info, i, "mean");
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  Fail(info.Env(), "unknown reduction '" + r + "' (mean, sum or none)");
}

// libtorch messages can span lines (and sometimes end with a C++ frame list): keep the first line.
std::string OneLine(const char* what) {
  std::string s(what ? what : "unknown error");
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
  }
  return s;
}

using Impl = Napi::Value (*)(const Napi::CallbackInfo&);
std::vector<std::pair<const char*, Impl>>& Registry() {
  static std::vector<std::pair<const char*, Impl>> r;
  return r;
}
struct Reg {
  Reg(const char* name, Impl fn) { Registry().emplace_back(name, fn); }
};

template <Impl F>
Napi::Value Guarded(const Napi::CallbackInfo& info, const char* name) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string(name) + ": " + OneLine(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(name) + ": " + OneLine(e.what()));
  }
}

#define DEF(name)                                                                                  \
  Napi::Value name##_impl(const Napi::CallbackInfo& info);                                         \
  Napi::Value name##_guarded(const Napi::CallbackInfo& info) { return Guarded<name##_impl>(info, #name); } \
  Reg name##_reg(#name, name##_guarded);                                                           \
  Napi::Value name##_impl(const Napi::CallbackInfo& info)

#define ENV info.Env()
#define RET(expr) return Wrap(ENV, (expr))

// ---------------------------------------------------------------------------------------------
// Handles, metadata, memory

DEF(dispose) {
  Box* b = BoxOf(ENV, info[0], 0);
  releaseBox(ENV, b);
  return ENV.Undefined();
}
// account(t): report t's bytes to V8 (once); its lifetime is now the GC's business.
DEF(account) {
  Box* b = BoxOf(ENV, info[0], 0);
  if (b->t.defined() && !b->bytes) {
    b->bytes = accountedBytes(b->t);
    if (b->bytes) {
      Napi::MemoryManagement::AdjustExternalMemory(ENV, b->bytes);
      g_accounted += b->bytes;
    }
  }
  return ENV.Undefined();
}
DEF(isDisposed) { return Napi::Boolean::New(ENV, !BoxOf(ENV, info[0], 0)->t.defined()); }
DEF(liveTensors) { return Napi::Number::New(ENV, static_cast<double>(g_live)); }
DEF(gcOwnedBytes) { return Napi::Number::New(ENV, static_cast<double>(g_accounted)); }

DEF(shape) {
  auto& t = T(info, 0);
  auto arr = Napi::Array::New(ENV, t.dim());
  for (int64_t k = 0; k < t.dim(); ++k) arr.Set(static_cast<uint32_t>(k), Napi::Number::New(ENV, static_cast<double>(t.size(k))));
  return arr;
}
DEF(dtype) { return Napi::String::New(ENV, DTypeName(T(info, 0).scalar_type())); }
DEF(device) { return Napi::String::New(ENV, T(info, 0).device().str()); }
DEF(numel) { return Napi::Number::New(ENV, static_cast<double>(T(info, 0).numel())); }
DEF(isContiguous) { return Napi::Boolean::New(ENV, T(info, 0).is_contiguous()); }
DEF(sameStorage) {
  return Napi::Boolean::New(ENV, T(info, 0).storage().is_alias_of(T(info, 1).storage()));
}

DEF(item) {
  auto& t = T(info, 0);
  if (t.numel() != 1) Fail(ENV, "item() needs a tensor with one element, got " + std::to_string(t.numel()));
  at::Scalar s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(ENV, s.toBool());
  return Napi::Number::New(ENV, s.toDouble());
}

// ---------------------------------------------------------------------------------------------
// Creation and conversion

// fromBuffer(typedArray, shape, dtype): copies the bytes; the typed array's element type must match dtype's width.
DEF(fromBuffer) {
  if (!info[0].IsTypedArray()) Fail(ENV, "fromBuffer needs a typed array");
  auto ta = info[0].As<Napi::TypedArray>();
  auto shape = Ints(info, 1);
  auto dtype = DT(info, 2);
  auto t = at::empty(shape, at::TensorOptions().dtype(dtype));
  size_t want = static_cast<size_t>(t.numel()) * t.element_size();
  if (ta.ByteLength() != want) {
    Fail(ENV, "fromBuffer: " + std::to_string(ta.ByteLength()) + " bytes given for shape of " + std::to_string(t.numel()) +
                  " " + DTypeName(dtype) + " elements (" + std::to_string(want) + " bytes)");
  }
  auto ab = ta.ArrayBuffer();
  if (want) std::memcpy(t.data_ptr(), static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset(), want);
  RET(t);
}

// toBuffer(t): a copy of the values (contiguous, on the CPU) as an ArrayBuffer.
DEF(toBuffer) {
  auto t = T(info, 0).detach().to(at::kCPU).contiguous();
  size_t n = static_cast<size_t>(t.numel()) * t.element_size();
  auto ab = Napi::ArrayBuffer::New(ENV, n);
  if (n) std::memcpy(ab.Data(), t.data_ptr(), n);
  return ab;
}

DEF(full) { RET(at::full(Ints(info, 0), Sc(info, 1), Opts(info, 2, 3))); }
DEF(empty) { RET(at::empty(Ints(info, 0), Opts(info, 1, 2))); }
DEF(randn) { RET(at::randn(Ints(info, 0), Opts(info, 1, 2))); }
DEF(rand) { RET(at::rand(Ints(info, 0), Opts(info, 1, 2))); }
DEF(randint) { RET(at::randint(Int(info, 0), Int(info, 1), Ints(info, 2), Opts(info, 3, 4))); }
DEF(randperm) { RET(at::randperm(Int(info, 0), Opts(info, 1, 2))); }
DEF(arange) { RET(at::arange(Sc(info, 0), Sc(info, 1), Sc(info, 2), Opts(info, 3, 4))); }
DEF(eye) { RET(at::eye(Int(info, 0), Opts(info, 1, 2))); }
DEF(linspace) { RET(at::linspace(Sc(info, 0), Sc(info, 1), Int(info, 2), Opts(info, 3, 4))); }

// to(t, dtype|null, device|null): returns the same tensor (a new handle) when nothing changes, as torch does.
DEF(to) {
  auto& t = T(info, 0);
  auto dtype = Absent(info, 1) ? t.scalar_type() : DT(info, 1);
  auto device = Absent(info, 2) ? t.device() : Dev(info, 2);
  RET(t.to(device, dtype, /*non_blocking=*/false, /*copy=*/Bool(info, 3)));
}
DEF(contiguous) { RET(T(info, 0).contiguous()); }
DEF(clone) { RET(T(info, 0).clone()); }
DEF(detach) { RET(T(info, 0).detach()); }
DEF(alias) { RET(T(info, 0)); }

// ---------------------------------------------------------------------------------------------
// Elementwise

#define UNARY(name, expr) \
  DEF(name) {             \
    auto& x = T(info, 0); \
    RET(expr);            \
  }
UNARY(neg, at::neg(x))
UNARY(abs, at::abs(x))
UNARY(exp, at::exp(x))
UNARY(log, at::log(x))
UNARY(log1p, at::log1p(x))
UNARY(sqrt, at::sqrt(x))
UNARY(rsqrt, at::rsqrt(x))
UNARY(square, at::square(x))
UNARY(tanh, at::tanh(x))
UNARY(sigmoid, at::sigmoid(x))
UNARY(relu, at::relu(x))
UNARY(silu, at::silu(x))
UNARY(sin, at::sin(x))
UNARY(cos, at::cos(x))
UNARY(reciprocal, at::reciprocal(x))
UNARY(sign, at::sign(x))
UNARY(floor, at::floor(x))
UNARY(ceil, at::ceil(x))
UNARY(round, at::round(x))
UNARY(erf, at::erf(x))
UNARY(erfinv, at::erfinv(x))
UNARY(isnan, at::isnan(x))
UNARY(isfinite, at::isfinite(x))
UNARY(logicalNot, at::logical_not(x))

// Binary ops take a tensor or a JS number as the second operand.
#define BINARY(name, fn)                                   \
  DEF(name) {                                              \
    auto& a = T(info, 0);                                  \
    if (IsScalar(info[1])) RET(fn(a, Sc(info, 1)));        \
    RET(fn(a, T(info, 1)));                                \
  }
BINARY(mul, at::mul)
BINARY(div, at::div)
BINARY(pow, at::pow)
BINARY(remainder, at::remainder)
BINARY(eq, at::eq)
BINARY(ne, at::ne)
BINARY(lt, at::lt)
BINARY(le, at::le)
BINARY(gt, at::gt)
BINARY(ge, at::ge)

DEF(add) {
  auto& a = T(info, 0);
  at::Scalar alpha = Absent(info, 2) ? at::Scalar(int64_t(1)) : Sc(info, 2);
  if (IsScalar(info[1])) RET(at::add(a, Sc(info, 1), alpha));
  RET(at::add(a, T(info, 1), alpha));
}
DEF(sub) {
  auto& a = T(info, 0);
  at::Scalar alpha = Absent(info, 2) ? at::Scalar(int64_t(1)) : Sc(info, 2);
  if (IsScalar(info[1])) RET(at::sub(a, Sc(info, 1), alpha));
  RET(at::sub(a, T(info, 1), alpha));
}
// rsub(x, s) = s - x, for scalars on the left.
DEF(rsub) { RET(at::rsub(T(info, 0), Sc(info, 1))); }
DEF(maximum) { RET(at::maximum(T(info, 0), T(info, 1))); }
DEF(minimum) { RET(at::minimum(T(info, 0), T(info, 1))); }
DEF(logicalAnd) { RET(at::logical_and(T(info, 0), T(info, 1))); }
DEF(logicalOr) { RET(at::logical_or(T(info, 0), T(info, 1))); }
DEF(clamp) { RET(at::clamp(T(info, 0), OptSc(info, 1), OptSc(info, 2))); }
DEF(where) {
  auto& c = T(info, 0);
  if (IsScalar(info[1]) && IsScalar(info[2])) RET(at::where(c, Sc(info, 1), Sc(info, 2)));
  if (IsScalar(info[1])) RET(at::where(c, Sc(info, 1), T(info, 2)));
  if (IsScalar(info[2])) RET(at::where(c, T(info, 1), Sc(info, 2)));
  RET(at::where(c, T(info, 1), T(info, 2)));
}
DEF(maskedFill) {
  auto& x = T(info, 0);
  if (IsScalar(info[2])) RET(at::masked_fill(x, T(info, 1), Sc(info, 2)));
  RET(at::masked_fill(x, T(info, 1), T(info, 2)));
}
DEF(lerp) {
  auto& a = T(info, 0);
  if (IsScalar(info[2])) RET(at::lerp(a, T(info, 1), Sc(info, 2)));
  RET(at::lerp(a, T(info, 1), T(info, 2)));
}
DEF(allclose) {
  return Napi::Boolean::New(ENV, at::allclose(T(info, 0), T(info, 1), Num(info, 2), Num(info, 3), Bool(info, 4)));
}
DEF(equal) { return Napi::Boolean::New(ENV, at::equal(T(info, 0), T(info, 1))); }

// In place (optimizers, initialisers). They return nothing: the JS side returns `this`.
#define VOID return ENV.Undefined()
DEF(add_) {
  auto& a = T(info, 0);
  at::Scalar alpha = Absent(info, 2) ? at::Scalar(int64_t(1)) : Sc(info, 2);
  if (IsScalar(info[1])) a.add_(Sc(info, 1), alpha); else a.add_(T(info, 1), alpha);
  VOID;
}
DEF(sub_) {
  auto& a = T(info, 0);
  at::Scalar alpha = Absent(info, 2) ? at::Scalar(int64_t(1)) : Sc(info, 2);
  if (IsScalar(info[1])) a.sub_(Sc(info, 1), alpha); else a.sub_(T(info, 1), alpha);
  VOID;
}
DEF(mul_) {
  auto& a = T(info, 0);
  if (IsScalar(info[1])) a.mul_(Sc(info, 1)); else a.mul_(T(info, 1));
  VOID;
}
DEF(div_) {
  auto& a = T(info, 0);
  if (IsScalar(info[1])) a.div_(Sc(info, 1)); else a.div_(T(info, 1));
  VOID;
}
DEF(addcmul_) { T(info, 0).addcmul_(T(info, 1), T(info, 2), Sc(info, 3)); VOID; }
DEF(addcdiv_) { T(info, 0).addcdiv_(T(info, 1), T(info, 2), Sc(info, 3)); VOID; }
DEF(lerp_) {
  auto& a = T(info, 0);
  if (IsScalar(info[2])) a.lerp_(T(info, 1), Sc(info, 2)); else a.lerp_(T(info, 1), T(info, 2));
  VOID;
}
DEF(clamp_) { T(info, 0).clamp_(OptSc(info, 1), OptSc(info, 2)); VOID; }
DEF(copy_) { T(info, 0).copy_(T(info, 1)); VOID; }
DEF(fill_) { T(info, 0).fill_(Sc(info, 1)); VOID; }
DEF(zero_) { T(info, 0).zero_(); VOID; }
DEF(sqrt_) { T(info, 0).sqrt_(); VOID; }
DEF(erfinv_) { T(info, 0).erfinv_(); VOID; }
DEF(normal_) { T(info, 0).normal_(Num(info, 1), Num(info, 2)); VOID; }
DEF(uniform_) { T(info, 0).uniform_(Num(info, 1), Num(info, 2)); VOID; }
DEF(bernoulli_) { T(info, 0).bernoulli_(Num(info, 1)); VOID; }
DEF(maskedFill_) {
  auto& x = T(info, 0);
  if (IsScalar(info[2])) x.masked_fill_(T(info, 1), Sc(info, 2)); else x.masked_fill_(T(info, 1), T(info, 2));
  VOID;
}
DEF(indexPut_) {
  auto& x = T(info, 0);
  auto arr = info[1].As<Napi::Array>();
  c10::List<c10::optional<at::Tensor>> idx;
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr[k];
    if (v.IsNull() || v.IsUndefined()) idx.push_back(c10::nullopt);
    else idx.push_back(BoxOf(ENV, v, 1)->t);
  }
  x.index_put_(idx, T(info, 2), Bool(info, 3));
  VOID;
}

// ---------------------------------------------------------------------------------------------
// Reductions

DEF(sum) {
  auto& x = T(info, 0);
  auto dims = OptInts(info, 1);
  auto dtype = OptDT(info, 3);
  if (!dims) RET(at::sum(x, dtype));
  RET(at::sum(x, *dims, Bool(info, 2), dtype));
}
DEF(mean) {
  auto& x = T(info, 0);
  auto dims = OptInts(info, 1);
  auto dtype = OptDT(info, 3);
  if (!dims) RET(at::mean(x, dtype));
  RET(at::mean(x, *dims, Bool(info, 2), dtype));
}
DEF(amax) { RET(at::amax(T(info, 0), OptInts(info, 1).value_or(std::vector<int64_t>{}), Bool(info, 2))); }
DEF(amin) { RET(at::amin(T(info, 0), OptInts(info, 1).value_or(std::vector<int64_t>{}), Bool(info, 2))); }
DEF(maxDim) {
  auto r = at::max(T(info, 0), Int(info, 1), Bool(info, 2));
  return WrapList(ENV, {std::get<0>(r), std::get<1>(r)});
}
DEF(minDim) {
  auto r = at::min(T(info, 0), Int(info, 1), Bool(info, 2));
  return WrapList(ENV, {std::get<0>(r), std::get<1>(r)});
}
DEF(argmax) {
  c10::optional<int64_t> dim;
  if (!Absent(info, 1)) dim = Int(info, 1);
  RET(at::argmax(T(info, 0), dim, Bool(info, 2)));
}
DEF(argmin) {
  c10::optional<int64_t> dim;
  if (!Absent(info, 1)) dim = Int(info, 1);
  RET(at::argmin(T(info, 0), dim, Bool(info, 2)));
}
DEF(var) {
  auto dims = OptInts(info, 1);
  c10::optional<int64_t> correction = Absent(info, 2) ? int64_t(1) : Int(info, 2);
  RET(at::var(T(info, 0), dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef(), correction, Bool(info, 3)));
}
DEF(std) {
  auto dims = OptInts(info, 1);
  c10::optional<int64_t> correction = Absent(info, 2) ? int64_t(1) : Int(info, 2);
  RET(at::std(T(info, 0), dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef(), correction, Bool(info, 3)));
}
DEF(norm) {
  auto& x = T(info, 0);
  at::Scalar p = Absent(info, 1) ? at::Scalar(2.0) : Sc(info, 1);
  auto dims = OptInts(info, 2);
  if (!dims) RET(at::norm(x, p));
  RET(at::norm(x, p, *dims, Bool(info, 3)));
}
DEF(logsumexp) { RET(at::logsumexp(T(info, 0), Ints(info, 1), Bool(info, 2))); }
DEF(cumsum) { RET(at::cumsum(T(info, 0), Int(info, 1))); }
DEF(all) { RET(at::all(T(info, 0))); }
DEF(any) { RET(at::any(T(info, 0))); }
DEF(topk) {
  auto r = at::topk(T(info, 0), Int(info, 1), Int(info, 2), Bool(info, 3, true), Bool(info, 4, true));
  return WrapList(ENV, {std::get<0>(r), std::get<1>(r)});
}
DEF(sort) {
  auto r = at::sort(T(info, 0), Int(info, 1), Bool(info, 2));
  return WrapList(ENV, {std::get<0>(r), std::get<1>(r)});
}

// ---------------------------------------------------------------------------------------------
// Shape and indexing

DEF(reshape) { RET(at::reshape(T(info, 0), Ints(info, 1))); }
DEF(view) { RET(T(info, 0).view(Ints(info, 1))); }
DEF(permute) { RET(T(info, 0).permute(Ints(info, 1))); }
DEF(transpose) { RET(at::transpose(T(info, 0), Int(info, 1), Int(info, 2))); }
DEF(flatten) { RET(at::flatten(T(info, 0), Int(info, 1), Int(info, 2))); }
DEF(unsqueeze) { RET(at::unsqueeze(T(info, 0), Int(info, 1))); }
DEF(squeeze) {
  if (Absent(info, 1)) RET(at::squeeze(T(info, 0)));
  RET(at::squeeze(T(info, 0), Int(info, 1)));
}
DEF(expand) { RET(T(info, 0).expand(Ints(info, 1))); }
DEF(repeat) { RET(T(info, 0).repeat(Ints(info, 1))); }
DEF(cat) { RET(at::cat(Tensors(info, 0), Int(info, 1))); }
DEF(stack) { RET(at::stack(Tensors(info, 0), Int(info, 1))); }
DEF(split) {
  auto& x = T(info, 0);
  if (info[1].IsNumber()) return WrapList(ENV, at::split(x, Int(info, 1), Int(info, 2)));
  return WrapList(ENV, at::split_with_sizes(x, Ints(info, 1), Int(info, 2)));
}
DEF(chunk) { return WrapList(ENV, at::chunk(T(info, 0), Int(info, 1), Int(info, 2))); }
DEF(narrow) { RET(at::narrow(T(info, 0), Int(info, 1), Int(info, 2), Int(info, 3))); }
DEF(select) { RET(at::select(T(info, 0), Int(info, 1), Int(info, 2))); }
DEF(slice) {
  c10::optional<int64_t> start, end;
  if (!Absent(info, 2)) start = Int(info, 2);
  if (!Absent(info, 3)) end = Int(info, 3);
  int64_t step = Absent(info, 4) ? 1 : Int(info, 4);
  RET(at::slice(T(info, 0), Int(info, 1), start, end, step));
}
DEF(indexSelect) { RET(at::index_select(T(info, 0), Int(info, 1), T(info, 2))); }
DEF(gather) { RET(at::gather(T(info, 0), Int(info, 1), T(info, 2))); }
DEF(scatter) {
  auto& x = T(info, 0);
  if (IsScalar(info[3])) RET(at::scatter(x, Int(info, 1), T(info, 2), Sc(info, 3)));
  RET(at::scatter(x, Int(info, 1), T(info, 2), T(info, 3)));
}
DEF(index) {
  auto arr = info[1].As<Napi::Array>();
  c10::List<c10::optional<at::Tensor>> idx;
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr[k];
    if (v.IsNull() || v.IsUndefined()) idx.push_back(c10::nullopt);
    else idx.push_back(BoxOf(ENV, v, 1)->t);
  }
  RET(at::index(T(info, 0), idx));
}
DEF(roll) { RET(at::roll(T(info, 0), Ints(info, 1), Ints(info, 2))); }
DEF(flip) { RET(at::flip(T(info, 0), Ints(info, 1))); }
DEF(pad) { RET(at::constant_pad_nd(T(info, 0), Ints(info, 1), Absent(info, 2) ? at::Scalar(0.0) : Sc(info, 2))); }
DEF(tril) { RET(at::tril(T(info, 0), Absent(info, 1) ? 0 : Int(info, 1))); }
DEF(triu) { RET(at::triu(T(info, 0), Absent(info, 1) ? 0 : Int(info, 1))); }
DEF(oneHot) { RET(at::one_hot(T(info, 0), Int(info, 1))); }
DEF(unfold) { RET(T(info, 0).unfold(Int(info, 1), Int(info, 2), Int(info, 3))); }

// ---------------------------------------------------------------------------------------------
// Linear algebra and neural-network ops

DEF(matmul) { RET(at::matmul(T(info, 0), T(info, 1))); }
DEF(mm) { RET(at::mm(T(info, 0), T(info, 1))); }
DEF(bmm) { RET(at::bmm(T(info, 0), T(info, 1))); }
// attention(qkv [B, N, 3C], heads, scale, fused, dropout): multi-head self-attention (native/attention.cc).
DEF(attention) { RET(pft::Attention(T(info, 0), Int(info, 1), Num(info, 2), Bool(info, 3, true), Absent(info, 4) ? 0 : Num(info, 4))); }
DEF(linear) { RET(pft::Linear(T(info, 0), T(info, 1), OptT(info, 2))); }
DEF(einsum) { RET(at::einsum(Str(info, 0), Tensors(info, 1))); }
DEF(layerNormForLinear) { RET(pft::LayerNormForLinear(T(info, 0), T(info, 1), T(info, 2), Num(info, 3))); }
DEF(layerNorm) {
  RET(at::layer_norm(T(info, 0), Ints(info, 1), OptT(info, 2), OptT(info, 3), Absent(info, 4) ? 1e-5 : Num(info, 4)));
}
DEF(gelu) { RET(pft::Gelu(T(info, 0), Str(info, 1, "none"))); }
DEF(softmax) { RET(at::softmax(T(info, 0), Int(info, 1), OptDT(info, 2))); }
DEF(logSoftmax) { RET(at::log_softmax(T(info, 0), Int(info, 1), OptDT(info, 2))); }
// crossEntropy(logits, target, reduction, labelSmoothing, ignoreIndex): target holds class indices (int64)
// or class probabilities (float, same shape as logits: mixup/cutmix targets).
DEF(crossEntropy) {
  int64_t ignore = Absent(info, 4) ? -100 : Int(info, 4);
  double smoothing = Absent(info, 3) ? 0.0 : Num(info, 3);
  RET(at::cross_entropy_loss(T(info, 0), T(info, 1), c10::nullopt, Reduction(info, 2), ignore, smoothing));
}
DEF(mseLoss) { RET(at::mse_loss(T(info, 0), T(info, 1), Reduction(info, 2))); }
DEF(dropout) { RET(at::dropout(T(info, 0), Num(info, 1), Bool(info, 2))); }
DEF(conv2d) {
  RET(at::conv2d(T(info, 0), T(info, 1), OptT(info, 2), Ints(info, 3), Ints(info, 4), Ints(info, 5), Int(info, 6)));
}
DEF(adaptiveAvgPool2d) { RET(at::adaptive_avg_pool2d(T(info, 0), Ints(info, 1))); }
DEF(avgPool2d) { RET(at::avg_pool2d(T(info, 0), Ints(info, 1), Ints(info, 2), Ints(info, 3))); }
DEF(maxPool2d) { RET(at::max_pool2d(T(info, 0), Ints(info, 1), Ints(info, 2), Ints(info, 3))); }
DEF(interpolate) {
  auto& x = T(info, 0);
  auto size = Ints(info, 1);
  std::string mode = Str(info, 2, "bilinear");
  bool align = Bool(info, 3);
  if (mode == "bilinear") RET(at::upsample_bilinear2d(x, size, align, c10::nullopt, c10::nullopt));
  if (mode == "bicubic") RET(at::upsample_bicubic2d(x, size, align, c10::nullopt, c10::nullopt));
  if (mode == "nearest") RET(at::upsample_nearest2d(x, size, c10::nullopt, c10::nullopt));
  Fail(ENV, "unknown interpolation mode '" + mode + "' (bilinear, bicubic or nearest)");
}

// ---------------------------------------------------------------------------------------------
// Autograd

DEF(setRequiresGrad) { T(info, 0).set_requires_grad(Bool(info, 1)); VOID; }
DEF(requiresGrad) { return Napi::Boolean::New(ENV, T(info, 0).requires_grad()); }
DEF(isLeaf) { return Napi::Boolean::New(ENV, T(info, 0).is_leaf()); }
DEF(retainGrad) { T(info, 0).retain_grad(); VOID; }
DEF(backward) {
  auto& t = T(info, 0);
  auto grad = OptT(info, 1);
  t.backward(grad.value_or(at::Tensor()), Bool(info, 2) ? c10::optional<bool>(true) : c10::nullopt, Bool(info, 3));
  VOID;
}
DEF(grad) { RET(T(info, 0).grad()); }
DEF(setGrad) {
  auto& t = T(info, 0);
  if (Absent(info, 1)) t.mutable_grad().reset();
  else t.mutable_grad() = T(info, 1);
  VOID;
}

// ---------------------------------------------------------------------------------------------
// Modes: gradient recording and autocast. The JS side restores the previous state on exit.

DEF(setGradEnabled) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(Bool(info, 0));
  return Napi::Boolean::New(ENV, prev);
}
DEF(isGradEnabled) { return Napi::Boolean::New(ENV, c10::GradMode::is_enabled()); }

// autocastEnter(device, dtype) -> [prevEnabled, prevDtype]; mirrors torch.autocast.__enter__.
DEF(autocastEnter) {
  std::string dev = Str(info, 0, "cpu");
  auto dtype = DT(info, 1);
  Napi::Array prev = Napi::Array::New(ENV, 2);
  if (dev == "cpu") {
    prev.Set(0u, Napi::Boolean::New(ENV, at::autocast::is_cpu_enabled()));
    prev.Set(1u, Napi::String::New(ENV, DTypeName(at::autocast::get_autocast_cpu_dtype())));
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else if (dev == "cuda") {
    prev.Set(0u, Napi::Boolean::New(ENV, at::autocast::is_enabled()));
    prev.Set(1u, Napi::String::New(ENV, DTypeName(at::autocast::get_autocast_gpu_dtype())));
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    Fail(ENV, "autocast supports cpu and cuda, not '" + dev + "'");
  }
  at::autocast::increment_nesting();
  return prev;
}
// autocastExit(device, prevEnabled, prevDtype); mirrors torch.autocast.__exit__ (cache cleared at the outermost exit).
DEF(autocastExit) {
  std::string dev = Str(info, 0, "cpu");
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (dev == "cpu") {
    at::autocast::set_cpu_enabled(Bool(info, 1));
    at::autocast::set_autocast_cpu_dtype(DT(info, 2));
  } else {
    at::autocast::set_enabled(Bool(info, 1));
    at::autocast::set_autocast_gpu_dtype(DT(info, 2));
  }
  VOID;
}
DEF(isAutocastEnabled) { return Napi::Boolean::New(ENV, at::autocast::is_cpu_enabled() || at::autocast::is_enabled()); }

// ---------------------------------------------------------------------------------------------
// Runtime: threads, RNG, and what the engine runs on

// profileStart(path) / profileStop(): libtorch's op profiler (every ATen op, forward and
// backward, with its time) written as a Chrome trace to `path` when stopped (bench --profile).
std::unique_ptr<torch::autograd::profiler::RecordProfile> g_profile;
DEF(profileStart) {
  if (g_profile) Fail(ENV, "profileStart: a profile is already running");
  g_profile = std::make_unique<torch::autograd::profiler::RecordProfile>(Str(info, 0));
  return ENV.Undefined();
}
DEF(profileStop) {
  g_profile.reset();
  return ENV.Undefined();
}

DEF(setNumThreads) {
  int64_t n = Int(info, 0);
  if (n < 1) Fail(ENV, "thread count must be >= 1");
  at::set_num_threads(static_cast<int>(n));
  // OpenBLAS keeps its own pool; match it so the two never oversubscribe the cores.
  if (auto fn = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(static_cast<int>(n));
  VOID;
}
DEF(getNumThreads) { return Napi::Number::New(ENV, at::get_num_threads()); }
DEF(manualSeed) {
  double d = Num(info, 0);
  if (d < 0 || std::floor(d) != d) Fail(ENV, "seed must be a non-negative integer");
  at::manual_seed(static_cast<uint64_t>(d));
  VOID;
}
DEF(rngState) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  RET(at::Tensor(gen.get_state()));
}
DEF(setRngState) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(T(info, 0));
  VOID;
}

// A training step allocates and frees the same few hundred activation buffers every time. glibc
// serves buffers above its mmap threshold (128 KiB, raised only as far as 32 MiB) with fresh
// mmap()s and gives them back on free, so each step page-faults all its activations in again
// (measured: ~2x the minor faults of PyTorch's process, and the faults serialise the two
// OpenMP threads). Keeping freed memory in the heap makes steps reuse it. Tensor buffers of
// 64 KiB and more now come from the caching allocator (native/allocator.cc); this still serves
// what bypasses it (smaller blocks, oneDNN's scratch memory, a PFT_CPU_CACHE_MB=0 run).
// Skipped when PFT_MALLOC_TUNING=0 or when the user tunes glibc malloc.
bool mallocTuned = false;  // set once, at load, by Init
bool TuneMalloc() {
#if defined(__GLIBC__)
  if (pft::SwitchedOff("PFT_MALLOC_TUNING")) return false;
  for (const char* v : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"}) {
    if (std::getenv(v)) return false;
  }
  return mallopt(M_MMAP_THRESHOLD, 256 << 20) == 1 &&  // buffers up to 256 MiB come from the heap
         mallopt(M_TRIM_THRESHOLD, 512 << 20) == 1 &&  // give memory back only past 512 MiB free
         mallopt(M_TOP_PAD, 64 << 20) == 1;            // grow the heap 64 MiB at a time
#else
  return false;
#endif
}

std::string LibraryOfAddress(void* p) {
  Dl_info di;
  if (!dladdr(p, &di) || !di.dli_fname) return "";
  char buf[4096];
  if (realpath(di.dli_fname, buf)) return buf;
  return di.dli_fname;
}

std::string LibraryOf(const char* symbol) {
  void* p = dlsym(RTLD_DEFAULT, symbol);
  return p ? LibraryOfAddress(p) : "";
}

// emptyCache(): frees the idle blocks of the caching CPU allocator (native/allocator.cc).
DEF(emptyCache) {
  pft::EmptyCache();
  return ENV.Undefined();
}

// How many threads an at::parallel_for in the addon's own code runs on. ATen's parallel_for is a
// header template: built without -fopenmp its `#pragma omp parallel` is dropped and every fused
// kernel here runs on one thread, silently (binding.gyp passes the flag; a test checks this).
int KernelThreads() {
  std::atomic<uint64_t> seen{0};
  at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t, int64_t) { seen.fetch_or(uint64_t(1) << std::min(at::get_thread_num(), 63)); });
  return __builtin_popcountll(seen.load());
}

DEF(runtimeInfo) {
  auto o = Napi::Object::New(ENV);
  std::string config = at::show_config();
  o.Set("config", config);
  std::string blasPath = LibraryOf("sgemm_");
  o.Set("blasLibrary", blasPath);
  std::string openblas;
  if (auto fn = reinterpret_cast<char* (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) openblas = fn();
  o.Set("openblasConfig", openblas);
  int blasThreads = -1;
  if (auto fn = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) blasThreads = fn();
  o.Set("blasThreads", blasThreads);
  int blasParallel = -1;  // OpenBLAS: 0 sequential, 1 its own pthreads, 2 OpenMP (libtorch's pool)
  if (auto fn = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"))) blasParallel = fn();
  o.Set("blasParallel", blasParallel);
  o.Set("threads", at::get_num_threads());
  o.Set("mkldnn", at::hasMKLDNN());
  o.Set("cuda", at::hasCUDA());
  o.Set("cudaDevices", at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0);
  o.Set("torchLibrary", LibraryOfAddress(reinterpret_cast<void*>(&at::show_config)));
  o.Set("mallocTuned", mallocTuned);
  o.Set("fusedAttention", pft::FusedAttentionAvailable());
  o.Set("fusedAttentionBf16", pft::FusedAttentionBf16Available());
  o.Set("fusedGelu", pft::FusedGeluAvailable());
  o.Set("onednnLinear", pft::DnnlLinearAvailable());
  o.Set("fusedLayerNorm", pft::LayerNormBf16Available());
  o.Set("kernelThreads", KernelThreads());
  const pft::CacheStats stats = pft::CachingAllocatorStats();
  auto cache = Napi::Object::New(ENV);
  cache.Set("limitBytes", static_cast<double>(stats.limit));
  cache.Set("idleBytes", static_cast<double>(stats.idleBytes));
  cache.Set("hits", static_cast<double>(stats.hits));
  cache.Set("misses", static_cast<double>(stats.misses));
  o.Set("cpuCache", cache);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  mallocTuned = TuneMalloc();
  pft::InstallCachingAllocator();
  for (auto& [name, fn] : Registry()) exports.Set(name, Napi::Function::New(env, fn, name));
  return exports;
}

}  // namespace

NODE_API_MODULE(pft_native, Init)
