/**
 * Bilinear resizing with half-pixel centers (align_corners=false, no antialiasing): the
 * convention of torch.nn.functional.interpolate(mode='bilinear', align_corners=False) and of
 * tf.image.resize(method='bilinear') / tfjs resizeBilinear(halfPixelCenters=true), so images
 * reach the model as they would in the d2l reference (which resizes 28 → 224 this way).
 *
 * Output pixel o along an axis samples source coordinate s = (o + 0.5) · in/out − 0.5, clamped
 * below at 0; it blends source pixels ⌊s⌋ and min(⌊s⌋ + 1, in − 1) with weights 1 − f and f,
 * f = s − ⌊s⌋. The 2-D result is this applied along x, then along y (bilinear is separable),
 * which costs 2 multiply-adds per output pixel after a cheap first pass over the source rows.
 */

/** Per-axis interpolation table: output o blends source lo[o] and hi[o] with weight frac[o]. */
export interface AxisTable {
  lo: Int32Array
  hi: Int32Array
  frac: Float64Array
}

const tables = new Map<string, AxisTable>()

/** The (cached) table for one (inSize, outSize): computed once, used for every image. */
export function axisTable(inSize: number, outSize: number): AxisTable {
  const key = `${inSize}>${outSize}`
  const hit = tables.get(key)
  if (hit) return hit
  if (!(Number.isInteger(inSize) && Number.isInteger(outSize) && inSize > 0 && outSize > 0))
    throw new RangeError(`resize: sizes must be positive integers, got ${inSize} → ${outSize}`)
  const lo = new Int32Array(outSize)
  const hi = new Int32Array(outSize)
  const frac = new Float64Array(outSize)
  const scale = inSize / outSize
  for (let o = 0; o < outSize; o++) {
    const s = Math.max(0, (o + 0.5) * scale - 0.5)
    const i0 = Math.min(Math.floor(s), inSize - 1)
    lo[o] = i0
    hi[o] = Math.min(i0 + 1, inSize - 1)
    frac[o] = s - i0
  }
  const table = { lo, hi, frac }
  tables.set(key, table)
  return table
}

// Scratch for the horizontal pass (inH × outW), grown as needed and reused: allocating it per
// image would dominate the cost for small outputs. Safe because this code never yields.
let scratch = new Float64Array(0)

/**
 * Resize one uint8 image (`inH × inW` at `srcOffset` in `src`) to `outSize × outSize`, writing
 * float32 pixels times `scale` (1/255 maps 0–255 to [0, 1]) at `dstOffset` in `dst`.
 */
export function resizeImageInto(
  src: Uint8Array,
  srcOffset: number,
  inH: number,
  inW: number,
  dst: Float32Array,
  dstOffset: number,
  outSize: number,
  scale = 1 / 255,
): void {
  if (inH === outSize && inW === outSize) {
    // Identity: the general path would give the same numbers, only slower.
    const n = inH * inW
    for (let i = 0; i < n; i++) dst[dstOffset + i] = (src[srcOffset + i] as number) * scale
    return
  }
  const tx = axisTable(inW, outSize)
  const ty = axisTable(inH, outSize)
  if (scratch.length < inH * outSize) scratch = new Float64Array(inH * outSize)
  const tmp = scratch
  // Pass 1: each source row → outSize samples along x (scale folded in here, once per sample).
  for (let y = 0; y < inH; y++) {
    const row = srcOffset + y * inW
    const out = y * outSize
    for (let o = 0; o < outSize; o++) {
      const a = src[row + (tx.lo[o] as number)] as number
      const b = src[row + (tx.hi[o] as number)] as number
      tmp[out + o] = (a + (b - a) * (tx.frac[o] as number)) * scale
    }
  }
  // Pass 2: blend pairs of those rows along y.
  for (let oy = 0; oy < outSize; oy++) {
    const ra = (ty.lo[oy] as number) * outSize
    const rb = (ty.hi[oy] as number) * outSize
    const f = ty.frac[oy] as number
    const out = dstOffset + oy * outSize
    for (let o = 0; o < outSize; o++) {
      const a = tmp[ra + o] as number
      dst[out + o] = a + ((tmp[rb + o] as number) - a) * f
    }
  }
}
