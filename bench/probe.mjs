// One fresh Lambda "container": imports the production bundle (BENCH_BUNDLE, a file URL) and calls its
// handler once with BENCH_EVENT (default: an Auto Scaling test notification, which only runs the
// first-call path). Prints one line `BENCH {json}` with timings and memory from /proc/self/status.
// Plain JavaScript on purpose: no loader between node and the bundle. Used by cold-start.ts and memory.ts.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const bytes = (field) =>
  Number(
    new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0,
  ) * 1024;

const bootMs = performance.now();
const { handler } = await import(process.env.BENCH_BUNDLE);
const loadMs = performance.now() - bootMs;
const rssAfterLoad = bytes('VmRSS');

const event = process.env.BENCH_EVENT
  ? JSON.parse(process.env.BENCH_EVENT)
  : {
      source: 'aws.autoscaling',
      'detail-type': 'EC2 Instance-terminate Lifecycle Action',
      detail: { Event: 'autoscaling:TEST_NOTIFICATION', AutoScalingGroupName: 'bench' },
    };
const deadline = Date.now() + 900_000;
const context = {
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:eks-node-drainer',
  awsRequestId: 'bench',
  getRemainingTimeInMillis: () => deadline - Date.now(),
};
const called = performance.now();
const summary = await handler(event, context);
const firstCallMs = performance.now() - called;

const result = {
  bootMs,
  loadMs,
  firstCallMs,
  rssAfterLoad,
  peakRss: bytes('VmHWM'),
  outcome: summary.outcome,
  lifecycleResult: summary.lifecycleResult,
  evicted: summary.report?.evicted.length ?? 0,
  evictionRefusals: summary.report?.evictionRefusals ?? 0,
  errors: summary.report?.errors ?? [],
};
process.stdout.write(`BENCH ${JSON.stringify(result)}\n`);
process.exit(0);
