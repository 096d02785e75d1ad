/** Promise-based uWS listen, and closing an app's remaining connections. */
import uWS from 'uWebSockets.js';

/** Listen on `host:port` (0 = any free port). Rejects when the address cannot be bound. */
export function listen(
  app: uWS.TemplatedApp,
  host: string,
  port: number,
): Promise<{ socket: uWS.us_listen_socket; port: number }> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket === false) reject(new Error(`cannot listen on ${host}:${port}`));
      else resolve({ socket, port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket) });
    });
  });
}

/**
 * Close every connection the app still has (idle keep-alive ones included). The native 20.30
 * build has `app.close()` although its typings do not declare it; without it, idle connections
 * linger until uWS's 10 s idle timeout.
 */
export function closeApp(app: uWS.TemplatedApp): void {
  const close = (app as { close?: () => void }).close;
  if (typeof close === 'function') close.call(app);
}
