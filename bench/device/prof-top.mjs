// The functions that took the most time in a .cpuprofile between two of its timestamps (µs, as
// host-profile.mjs prints them): self time and inclusive time, in percent of the window.
//   node prof-top.mjs FILE.cpuprofile [T0 T1]   (N=40 rows)
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const [t0, t1] = [Number(process.argv[3] ?? 0), Number(process.argv[4] ?? Infinity)];
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const hits = new Map();
let total = 0;
let ts = p.startTime;
p.samples.forEach((s, i) => {
  ts += p.timeDeltas[i];
  const d = p.timeDeltas[i + 1] ?? 0;
  if (ts < t0 || ts > t1) return;
  hits.set(s, (hits.get(s) ?? 0) + d);
  total += d;
});
const key = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
const self = new Map();
const incl = new Map();
for (const [id, t] of hits) {
  const k = key(byId.get(id));
  self.set(k, (self.get(k) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const kk = key(byId.get(cur));
    if (seen.has(kk)) continue;
    seen.add(kk);
    incl.set(kk, (incl.get(kk) ?? 0) + t);
  }
}
const N = Number(process.env.N ?? 40);
const top = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, N).map(([k, t]) => `${((t / total) * 100).toFixed(1).padStart(5)}% ${k}`).join('\n');
console.log(`window ${(total / 1000).toFixed(1)} ms\nSELF\n${top(self)}\nINCLUSIVE\n${top(incl)}`);
