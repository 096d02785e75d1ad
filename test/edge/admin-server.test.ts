/** The admin listener: Prometheus text with the edge metrics, fleet debug, and route explanations that forward nothing. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminServer } from '../../src/edge/admin-server.ts';
import { FakeUpstream } from './support/fake-upstream.ts';
import { startEdge, type StartedEdge } from './support/edge-harness.ts';
import { RoundRobinRouting } from './support/round-robin-routing.ts';

let upstream: FakeUpstream;
let routing: RoundRobinRouting;
let edge: StartedEdge;
let admin: AdminServer;
let adminUrl: string;

beforeAll(async () => {
  upstream = await FakeUpstream.start('a');
  routing = new RoundRobinRouting([upstream.endpoint]);
  edge = await startEdge(routing);
  admin = await AdminServer.start({ host: '127.0.0.1', port: 0, metrics: edge.metrics.registry, routing });
  adminUrl = `http://127.0.0.1:${admin.port}`;
});

afterAll(async () => {
  admin.close();
  await edge.server.shutdown(500);
  await upstream.stop();
});

describe('admin server', () => {
  it('exposes the edge metrics in Prometheus text format', async () => {
    await edge.openai().completions.create({ model: 'test-model', prompt: 'count me' });
    const response = await fetch(`${adminUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toContain(
      `kvedge_requests_total{model="test-model",status="200",endpoint="${upstream.endpoint.id}"} 1`,
    );
    for (const name of [
      'kvedge_request_duration_seconds_bucket',
      'kvedge_retries_total',
      'kvedge_upstream_errors_total',
      'kvedge_inflight_requests 0',
      'kvedge_ttft_seconds',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('serves /debug/fleet from the routing service', async () => {
    const response = await fetch(`${adminUrl}/debug/fleet`);
    expect(await response.json()).toEqual({ endpoints: [{ ...upstream.endpoint, inflight: 0 }] });
  });

  it('explains a route for a completion body without forwarding it', async () => {
    const before = upstream.requests.length;
    const chat = await fetch(`${adminUrl}/debug/route`, {
      method: 'POST',
      body: JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'why here?' }] }),
    });
    expect(await chat.json()).toMatchObject({
      api: 'chat',
      model: 'test-model',
      promptText: 'user\nwhy here?\n',
    });
    const completion = await fetch(`${adminUrl}/debug/route`, {
      method: 'POST',
      body: JSON.stringify({ model: 'test-model', prompt: 'abc' }),
    });
    expect(await completion.json()).toMatchObject({ api: 'completions', promptText: 'abc' });
    const responses = await fetch(`${adminUrl}/debug/route?api=responses`, {
      method: 'POST',
      body: JSON.stringify({ model: 'test-model', input: 'in', instructions: 'sys' }),
    });
    expect(await responses.json()).toMatchObject({ api: 'responses', promptText: 'sys\nin' });
    expect(upstream.requests.length).toBe(before);
  });

  it('answers bad debug requests and unknown paths with OpenAI errors', async () => {
    const bad = await fetch(`${adminUrl}/debug/route`, {
      method: 'POST',
      body: '{"model": 1, "prompt": "x"}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('model');
    const unknownApi = await fetch(`${adminUrl}/debug/route?api=nope`, { method: 'POST', body: '{}' });
    expect(unknownApi.status).toBe(400);
    const missing = await fetch(`${adminUrl}/nothing`);
    expect(missing.status).toBe(404);
  });
});
