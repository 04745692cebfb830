// Procedural textures standing in for what ImageNet-C reads from files: frost. Hendrycks' frost
// blends a random crop of one of six photographs of frost on glass (frost1.png ... frost6.jpg,
// shrunk 5x for CIFAR-10-C). pft ships no such images, so frost here is drawn: a cloudy base (the
// plasma fractal fog uses) under bright, thin, branching ice needles, slightly blurred and tinted
// pale blue. See docs/robustness.md for how it compares with the photographs.
import type { Rng } from "../data/index.js";
import { gaussianPlane, plasmaFractal, pow2AtLeast } from "./pixels.js";

/** Pale blue-white of frost (R, G, B); greyscale images get its luma. */
export const FROST_TINT: readonly [number, number, number] = [0.85, 0.93, 1.0];

/**
 * A frost intensity map [h*w] in [0, 1], mean about 0.45: 0.2 + 0.4 * cloud + 0.6 * needles.
 * Needles: round(h*w/40) straight strokes of random direction and length up to 40% of the side,
 * each spawning side branches at ±60° (two levels), drawn with the brightest stroke winning.
 */
export function frostTexture(rng: Rng, h: number, w: number): Float32Array {
  const n = pow2AtLeast(Math.max(h, w));
  const cloud = plasmaFractal(rng, n, 2);
  const needles = new Float32Array(h * w);
  const side = Math.min(h, w);
  type Stroke = { x: number; y: number; a: number; len: number; v: number; depth: number };
  const stack: Stroke[] = [];
  const count = Math.max(1, Math.round((h * w) / 40));
  for (let k = 0; k < count; k++) {
    stack.push({ x: rng.uniform(0, w), y: rng.uniform(0, h), a: rng.uniform(0, 2 * Math.PI), len: rng.uniform(0.1, 0.4) * side, v: rng.uniform(0.4, 1), depth: 0 });
  }
  while (stack.length) {
    const s = stack.pop()!;
    const dx = Math.cos(s.a) * 0.5;
    const dy = Math.sin(s.a) * 0.5;
    let x = s.x;
    let y = s.y;
    for (let t = 0; t < s.len * 2; t++) {
      const xi = Math.floor(x);
      const yi = Math.floor(y);
      if (xi < 0 || yi < 0 || xi >= w || yi >= h) break;
      if (needles[yi * w + xi] < s.v) needles[yi * w + xi] = s.v;
      if (s.depth < 2 && rng.bernoulli(0.06)) {
        const turn = rng.bernoulli(0.5) ? Math.PI / 3 : -Math.PI / 3;
        stack.push({ x, y, a: s.a + turn, len: s.len * 0.5, v: s.v * 0.85, depth: s.depth + 1 });
      }
      x += dx;
      y += dy;
    }
  }
  const soft = gaussianPlane(needles, h, w, 0.5);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = 0.2 + 0.4 * cloud[y * n + x] + 0.6 * soft[y * w + x];
      out[y * w + x] = v > 1 ? 1 : v;
    }
  }
  return out;
}
