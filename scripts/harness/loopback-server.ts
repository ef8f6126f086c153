import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** An HTTP server of the harness on a free loopback port; subclasses answer the requests. */
export abstract class LoopbackHttpServer {
  private server?: Server;
  /** http://127.0.0.1:<port>, once started. */
  url = '';

  protected abstract handle(req: IncomingMessage, res: ServerResponse): void;

  async start(): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no loopback address');
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Text for an XML element of the AWS Query protocols' answers. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
