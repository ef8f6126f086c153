/**
 * One invocation of the real handler in a process of its own, as a Lambda container runs it: the
 * scale-in benchmark starts one per node, so the drains do not share an event loop with each other,
 * the simulated kubelets or the local AWS endpoint (which stay in the benchmark's process). Bundled
 * as the function is; its environment is the function's (the local endpoint, CLUSTER_NAME) plus
 * BENCH_EVENT. It loads, says `ready`, waits for `go` on stdin, invokes the handler once, and prints
 * its handler log lines and then one `BENCH_RESULT {…}` line.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { handler } from '../lambda/handler.js';
import { countEksTokenRequests } from './api-cost.js';
import { type HandlerChildResult, RESULT_PREFIX } from './child-protocol.js';

const event = JSON.parse(process.env.BENCH_EVENT ?? '{}') as unknown;
const go = new Promise<void>((resolve) => {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'go') {
      lines.close();
      resolve();
    }
  });
});
process.stdout.write('ready\n');
await go;

const requests = countEksTokenRequests();
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
const cpuBefore = process.cpuUsage();
const limit = Date.now() + 900_000;
let result: HandlerChildResult;
try {
  const summary = await handler(
    event as never,
    {
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:eks-node-drainer',
      awsRequestId: randomUUID(),
      getRemainingTimeInMillis: () => limit - Date.now(),
    } as never,
  );
  result = measured({ summary });
} catch (error) {
  result = measured({ error: error instanceof Error ? error.message : String(error) });
}
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`, () => process.exit(0));

function measured(outcome: Pick<HandlerChildResult, 'summary' | 'error'>): HandlerChildResult {
  const cpu = process.cpuUsage(cpuBefore);
  loop.disable();
  requests.stop();
  return {
    ...outcome,
    requests: requests.counts,
    cpuS: (cpu.user + cpu.system) / 1e6,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
  };
}
