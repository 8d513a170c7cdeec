// A tfjs model's weights as NiN Lab safetensors (src/trainer/export/model.ts): layouts permuted
// to PyTorch's, names from the layer table, the container readable byte for byte. The end-to-end
// proof (a tfjs-trained model scoring its accuracy in the torch network) is
// tests/integration/model-export.test.ts; this pins the permutations on numbers small enough to
// check by hand.
import { describe, expect, it } from 'vitest'
import { tfjsToSafetensors } from '@trainer/export/model'

const manifest = (weights: { name: string; shape: number[] }[]) => ({
  format: 'nin-lab-layers',
  dataFormat: 'NHWC' as const,
  modelTopology: { layers: [] },
  weightsManifest: [{ weights: weights.map((w) => ({ ...w, dtype: 'float32' })) }],
})

interface Entry {
  readonly shape: number[]
  readonly data_offsets: [number, number]
}
type Header = Record<string, Entry> & { __metadata__: Record<string, string> }

function read(buf: Buffer): { header: Header; data: Float32Array } {
  const n = Number(buf.readBigUInt64LE(0))
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Header
  const bytes = Uint8Array.from(buf.subarray(8 + n))
  return { header, data: new Float32Array(bytes.buffer) }
}

describe('tfjs weights → safetensors', () => {
  it('permutes conv kernels to [out, in, kh, kw] and transposes dense kernels', () => {
    const values = Float32Array.from([0, 1, 2, 3, 4, 5, 10, 11, 12, 20, 21, 22, 23, 24, 25, 7, 8])
    const buf = tfjsToSafetensors(
      manifest([
        { name: 'block1.conv/kernel', shape: [2, 1, 1, 3] }, // kh 2, kw 1, in 1, out 3
        { name: 'block1.conv/bias', shape: [3] },
        { name: 'fc/kernel', shape: [2, 3] }, // in 2, out 3
        { name: 'fc/bias', shape: [2] },
      ]),
      Buffer.from(values.buffer),
    )
    const { header, data } = read(buf)
    const at = (name: string) => {
      const [a, b] = header[name]!.data_offsets
      return [...data.subarray(a / 4, b / 4)]
    }
    expect(header['block1.conv.weight']!.shape).toEqual([3, 1, 2, 1])
    // out o, y: tfjs v[y·3 + o] → torch index o·2 + y.
    expect(at('block1.conv.weight')).toEqual([0, 3, 1, 4, 2, 5])
    expect(at('block1.conv.bias')).toEqual([10, 11, 12])
    expect(header['fc.weight']!.shape).toEqual([3, 2])
    expect(at('fc.weight')).toEqual([20, 23, 21, 24, 22, 25])
    expect(at('fc.bias')).toEqual([7, 8])
    expect(header.__metadata__).toMatchObject({ format: 'nin-lab-safetensors', engine: 'tfjs' })
    expect((8 + Number(buf.readBigUInt64LE(0))) % 8).toBe(0) // the data starts 8-byte aligned
  })

  it('refuses weights that do not match their manifest', () => {
    const m = manifest([{ name: 'block1.conv/kernel', shape: [1, 1, 1, 2] }])
    expect(() => tfjsToSafetensors(m, Buffer.alloc(4))).toThrow(/shorter than its manifest/)
    expect(() => tfjsToSafetensors(m, Buffer.alloc(12))).toThrow(/more than its manifest/)
  })
})
