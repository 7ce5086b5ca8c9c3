/**
 * What a cached pod costs: JSON bytes and heap bytes per pod, kept whole (the
 * informers' default transform, which drops only managedFields) against kept
 * slim (slimPod, the pods cache's transform). Reads the output of
 * `kubectl get pods -o json` (the lab's pods: `-l app.kubernetes.io/managed-by=studylab-operator`).
 *
 *   kubectl get pods -A -l app.kubernetes.io/managed-by=studylab-operator -o json > pods.json
 *   node --expose-gc --import tsx bench/pod-cache.ts pods.json
 *
 * Heap: N copies are parsed, transformed and kept, with a full GC before and
 * after; the difference over N is the heap one cached pod holds.
 */
import { readFileSync } from 'node:fs';
import { dropManagedFields, type KubeObject } from '../src/runtime/index.js';
import { slimPod } from '../src/studylab/pods.js';

const COPIES = 20_000;

function main(): void {
  const file = process.argv[2];
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!file || !gc) {
    console.error('usage: node --expose-gc --import tsx bench/pod-cache.ts pods.json');
    process.exit(2);
  }
  const items = (JSON.parse(readFileSync(file, 'utf8')) as { items: KubeObject[] }).items;
  if (items.length === 0) throw new Error(`${file}: no pods`);
  const texts = items.map((p) => JSON.stringify(p));
  const bytes = (transform: (o: KubeObject) => KubeObject): number =>
    Math.round(
      texts.reduce((sum, t) => sum + JSON.stringify(transform(JSON.parse(t) as KubeObject)).length, 0) /
        texts.length,
    );
  const heap = (transform: (o: KubeObject) => KubeObject): number => {
    gc();
    const before = process.memoryUsage().heapUsed;
    const kept: KubeObject[] = [];
    for (let i = 0; i < COPIES; i++) kept.push(transform(JSON.parse(texts[i % texts.length]!) as KubeObject));
    gc();
    const after = process.memoryUsage().heapUsed;
    return Math.round((after - before) / kept.length);
  };
  console.log(`pods: ${items.length}`);
  console.log(`JSON bytes per pod: whole ${bytes(dropManagedFields)}, slim ${bytes(slimPod)}`);
  console.log(`heap bytes per cached pod: whole ${heap(dropManagedFields)}, slim ${heap(slimPod)}`);
}

main();
