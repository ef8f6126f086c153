/**
 * The presigned S3 URL to which a CloudFormation custom resource answers: records each PUT (its
 * content type and JSON body) and answers 200, as S3 does; `refuseNext` answers 403 once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackHttpServer, readBody } from './loopback-server.js';

export interface CustomResourceResponse {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: {
    readonly Status: 'SUCCESS' | 'FAILED';
    readonly Reason?: string;
    readonly PhysicalResourceId: string;
    readonly StackId: string;
    readonly RequestId: string;
    readonly LogicalResourceId: string;
    readonly Data?: Record<string, unknown>;
  };
}

export class LocalCustomResourceResponses extends LoopbackHttpServer {
  readonly responses: CustomResourceResponse[] = [];
  private refusals = 0;

  refuseNext(): void {
    this.refusals++;
  }

  /** A fresh response URL, as CloudFormation gives one per request. */
  responseUrl(requestId: string): string {
    return `${this.url}/cloudformation-custom-resource-response/${requestId}?X-Amz-Signature=local`;
  }

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    void readBody(req).then((text) => {
      if (req.method !== 'PUT') {
        res.writeHead(405).end();
        return;
      }
      if (this.refusals > 0) {
        this.refusals--;
        res.writeHead(403).end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
        return;
      }
      this.responses.push({
        path: new URL(req.url ?? '/', 'http://localhost').pathname,
        contentType: req.headers['content-type'],
        body: JSON.parse(text) as CustomResourceResponse['body'],
      });
      res.writeHead(200).end();
    });
  }
}
