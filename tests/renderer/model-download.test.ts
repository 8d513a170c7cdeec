// @vitest-environment happy-dom
// Run detail → Download model: the formats the run's engine exports, the core's exportModel
// called with the run and the chosen format, the files downloaded, a refusal shown as an alert.
import { enableAutoUnmount, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, type Params } from '@shared/api/contract'
import { setTransport } from '@renderer/api'
import ModelDownload from '@renderer/components/ModelDownload.vue'
import { fakeTransport, flush } from './helpers'

enableAutoUnmount(afterEach)

describe('Download model', () => {
  it('offers the engine’s formats and downloads what the core exports', async () => {
    const asked: Params<'exportModel'>[] = []
    setTransport(
      fakeTransport({
        exportModel: (p) => {
          asked.push(p)
          return {
            files: [
              { name: `${p.id}-model.onnx`, mimeType: 'application/octet-stream', base64: 'AAEC' },
            ],
          }
        },
      }),
    )
    const clicked: string[] = []
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (
      this: HTMLAnchorElement,
    ) {
      clicked.push(this.download)
    })
    const w = mount(ModelDownload, { props: { runId: 'r1', engine: 'torch' } })
    const options = w
      .findAll('[data-testid="model-format"] option')
      .map((o) => (o.element as HTMLOptionElement).value)
    expect(options).toEqual(['onnx', 'safetensors', 'torchscript'])
    await w.find('form').trigger('submit')
    await flush()
    expect(asked).toEqual([{ id: 'r1', format: 'onnx' }])
    expect(clicked).toEqual(['r1-model.onnx'])
    expect(w.find('[data-testid="model-download-message"]').text()).toBe('Saved r1-model.onnx')
    click.mockRestore()
  })

  it('tfjs runs offer TF.js and safetensors; a refusal is shown as an alert', async () => {
    setTransport(
      fakeTransport({
        exportModel: () => {
          throw new ApiError('invalid-params', 'the model in /x cannot be exported: damaged')
        },
      }),
    )
    const w = mount(ModelDownload, { props: { runId: 'r2', engine: 'tfjs' } })
    const options = w
      .findAll('[data-testid="model-format"] option')
      .map((o) => (o.element as HTMLOptionElement).value)
    expect(options).toEqual(['tfjs', 'safetensors'])
    await w.find('form').trigger('submit')
    await flush()
    const alert = w.find('[role="alert"]')
    expect(alert.text()).toMatch(/cannot be exported: damaged/)
  })
})
