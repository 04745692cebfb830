// Weight initializers, as torch.nn.init and timm use them. Each fills its tensor (or parameter)
// in place, without recording autograd history, draws from the global generator (manualSeed),
// and returns its argument.
//
//   truncNormal_(this.pos_embed, { std: 0.02 });   // timm ViT
//   zeros_(this.head.bias);
import { noGrad, Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import { Parameter } from "./parameter.js";

/** A tensor, or a parameter (its tensor is filled). */
export type Initializable = Tensor | Parameter;

export type Nonlinearity = "linear" | "conv1d" | "conv2d" | "conv3d" | "sigmoid" | "tanh" | "relu" | "leaky_relu" | "selu";

const valueOf = (t: Initializable): Tensor => (t instanceof Parameter ? t.value : t);

function fill<T extends Initializable>(t: T, fn: (v: Tensor) => void): T {
  noGrad(() => fn(valueOf(t)));
  return t;
}

/**
 * fan_in and fan_out as torch's _calculate_fan_in_and_fan_out: for a weight [out, in, ...kernel],
 * fan_in = in * prod(kernel) and fan_out = out * prod(kernel).
 */
export function fanInAndOut(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new PftError("shape", `fan in and fan out need a tensor with 2+ dimensions, got [${shape.join(", ")}]`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain. */
export function calculateGain(nonlinearity: Nonlinearity, negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case "linear":
    case "conv1d":
    case "conv2d":
    case "conv3d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu":
      return Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
    case "selu":
      return 3 / 4;
  }
}

export function uniform_<T extends Initializable>(t: T, low = 0, high = 1): T {
  return fill(t, (v) => v.uniform_(low, high));
}

export function normal_<T extends Initializable>(t: T, mean = 0, std = 1): T {
  return fill(t, (v) => v.normal_(mean, std));
}

export function constant_<T extends Initializable>(t: T, value: number): T {
  return fill(t, (v) => v.fill_(value));
}

export function zeros_<T extends Initializable>(t: T): T {
  return fill(t, (v) => v.zero_());
}

export function ones_<T extends Initializable>(t: T): T {
  return fill(t, (v) => v.fill_(1));
}

export interface TruncNormalOptions {
  mean?: number;
  std?: number;
  /** Lower bound, in absolute units (not standard deviations), as in timm. */
  a?: number;
  /** Upper bound, in absolute units. */
  b?: number;
}

/** The standard normal CDF at each x, with libtorch's double-precision erf (as math.erf). */
function normCdf(xs: number[]): number[] {
  const t = Tensor.from(xs.map((x) => x / Math.SQRT2), [xs.length], { dtype: "float64" });
  try {
    const e = t.erf();
    try {
      return Array.from(e.data() as Float64Array, (v) => (1 + v) / 2);
    } finally {
      e.dispose();
    }
  } finally {
    t.dispose();
  }
}

/**
 * Normal(mean, std) truncated to [a, b], as timm's trunc_normal_: uniform on [2l-1, 2u-1] with
 * l, u the normal CDF of the standardised bounds, then the inverse erf, scaled and shifted, and
 * clamped to [a, b]. Note a, b default to ±2 absolute, so `{ std: 0.02 }` is barely truncated.
 */
export function truncNormal_<T extends Initializable>(t: T, opts: TruncNormalOptions = {}): T {
  const { mean = 0, std = 1, a = -2, b = 2 } = opts;
  if (!(std > 0)) throw new PftError("argument", `truncNormal_: std must be positive, got ${std}`);
  if (!(a < b)) throw new PftError("argument", `truncNormal_: needs a < b, got a=${a}, b=${b}`);
  const [l, u] = normCdf([(a - mean) / std, (b - mean) / std]);
  return fill(t, (v) => {
    v.uniform_(2 * l - 1, 2 * u - 1);
    v.erfinv_();
    v.mul_(std * Math.SQRT2);
    v.add_(mean);
    v.clamp_(a, b);
  });
}

/** U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot). */
export function xavierUniform_<T extends Initializable>(t: T, gain = 1): T {
  const { fanIn, fanOut } = fanInAndOut(valueOf(t).shape);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound);
}

/** N(0, std²) with std = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal_<T extends Initializable>(t: T, gain = 1): T {
  const { fanIn, fanOut } = fanInAndOut(valueOf(t).shape);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

export interface KaimingOptions {
  /** Negative slope of the leaky_relu that follows (torch's `a`); sqrt(5) gives nn.Linear's default. */
  a?: number;
  mode?: "fan_in" | "fan_out";
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Initializable, opts: KaimingOptions): number {
  const { a = 0, mode = "fan_in", nonlinearity = "leaky_relu" } = opts;
  const { fanIn, fanOut } = fanInAndOut(valueOf(t).shape);
  return calculateGain(nonlinearity, a) / Math.sqrt(mode === "fan_in" ? fanIn : fanOut);
}

/** U(-bound, bound) with bound = gain * sqrt(3 / fan) (He), as torch.nn.init.kaiming_uniform_. */
export function kaimingUniform_<T extends Initializable>(t: T, opts: KaimingOptions = {}): T {
  const bound = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform_(t, -bound, bound);
}

export function kaimingNormal_<T extends Initializable>(t: T, opts: KaimingOptions = {}): T {
  return normal_(t, 0, kaimingStd(t, opts));
}
