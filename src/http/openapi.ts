// The OpenAPI 3.1 document is generated from the same zod schemas that validate requests:
// each router registers its paths here next to its handlers.
import {
  extendZodWithOpenApi,
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { errorCatalogue } from '../lib/errors.ts';

extendZodWithOpenApi(z);

export const problemSchema = z
  .object({
    type: z.string().describe('urn:claimtrail:problem:<code>'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

/** A JSON response whose body is `schema`: the zod shape the route returns (defined next to the
 * view it documents; test/http/openapi-responses.test.ts checks real responses against it). */
export const jsonResponse = (description: string, schema: z.ZodType) => ({
  description,
  content: { 'application/json': { schema } },
});

/** `/v1` except the log needs a token; probes, metrics, the log and the docs are public. */
export const bearerAuth = [{ bearer: [] }];
export const publicRoute: { [scheme: string]: string[] }[] = [];

export function problemResponses(...statuses: number[]) {
  const out: NonNullable<RouteConfig['responses']> = {};
  for (const status of statuses) {
    const known = Object.values(errorCatalogue).find((e) => e.status === status);
    out[status] = {
      description: known?.title ?? 'Error',
      content: { 'application/problem+json': { schema: problemSchema } },
    };
  }
  return out;
}

export class ApiDocs {
  readonly registry = new OpenAPIRegistry();

  constructor() {
    this.registry.registerComponent('securitySchemes', 'bearer', {
      type: 'http',
      scheme: 'bearer',
      description: 'API token from `claimtrail user add` or POST /v1/users',
    });
    // Served by app.ts from this class's document().
    this.route({
      method: 'get',
      path: '/openapi.json',
      operationId: 'getOpenApiDocument',
      summary: 'This OpenAPI 3.1 document',
      security: publicRoute,
      responses: { 200: jsonResponse('the document', z.record(z.string(), z.unknown())) },
    });
  }

  /** Every operation names its operationId (client generators' method names) and its
   * security, so none can be registered without them. */
  route(config: RouteConfig & { operationId: string; security: NonNullable<RouteConfig['security']> }): void {
    this.registry.registerPath(config);
  }

  document(bodyLimitBytes: number) {
    return new OpenApiGeneratorV31(this.registry.definitions).generateDocument({
      openapi: '3.1.0',
      info: {
        title: 'claimtrail',
        version: '0.1.0',
        description: `Provenance and chain-of-custody tracker for media claims. JSON request bodies are limited to ${bodyLimitBytes} bytes (413 beyond). Errors are RFC 9457 problem+json.`,
      },
      servers: [{ url: '/' }],
    });
  }
}
