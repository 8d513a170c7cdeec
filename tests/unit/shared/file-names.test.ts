import { describe, expect, it } from 'vitest'
import { reportFileName, safeFileStem } from '@shared/file-names'

const day = new Date('2026-12-07T21:00:00Z')

describe('report file names', () => {
  it('are named after the experiment, then the date', () => {
    expect(reportFileName(['micro-vs-head', 'micro-vs-head'], day, 'html')).toBe(
      'micro-vs-head-report-2026-12-07.html',
    )
    expect(reportFileName(['a', 'b', 'c'], day, 'pdf')).toBe('a-and-2-more-report-2026-12-07.pdf')
  })

  it('keep only what every file system takes', () => {
    expect(safeFileStem('../../etc/passwd')).toBe('etc-passwd')
    expect(safeFileStem('my study: 1×1 vs 3×3 / seeds')).toBe('my-study-1-1-vs-3-3-seeds')
    expect(safeFileStem('evil\u202Etxt.exe\u0000')).toBe('evil-txt.exe')
    expect(safeFileStem('.hidden')).toBe('hidden')
    expect(safeFileStem('CON')).toBe('CON-report')
    expect(safeFileStem('nul.txt')).toBe('nul.txt-report')
    expect(safeFileStem('Études ünd 数据')).toBe('Études-ünd-数据')
    expect(safeFileStem('///')).toBe('nin-lab')
    expect(safeFileStem('x'.repeat(500))).toHaveLength(80)
  })
})
