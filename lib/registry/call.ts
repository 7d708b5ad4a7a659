import { isConnectionError } from "../std/request.ts";
import { NoProviderError, type Providers } from "./providers.ts";

/**
 * Calls a random provider of `name`; when the call fails with a connection error (refused,
 * reset, unreachable — see `isConnectionError`), drops that provider locally and tries
 * another one, so one dead instance costs a caller one refused connection, not an error.
 *
 * Every other error of `call` (an HTTP status the caller turned into an error, a timeout, an
 * abort) propagates unchanged: the provider may have acted on the request, so it is not safe
 * to repeat it elsewhere. Throws `NoProviderError` (with the last connection error as its
 * `cause`) when no provider is left. The registry re-adds a dropped provider by patch once
 * its health checks pass again.
 */
export async function callProvider<T>(
  providers: Providers,
  name: string,
  call: (url: string) => Promise<T>,
): Promise<T> {
  const tried = new Set<string>();
  let lastError: unknown;
  for (;;) {
    let url: string;
    try {
      // Skip URLs already tried in this call, in case a patch re-added one meanwhile.
      url = providers.get(name, tried);
    } catch (error) {
      if (lastError === undefined) throw error;
      throw new NoProviderError(name, { cause: lastError });
    }
    tried.add(url);
    try {
      return await call(url);
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      lastError = error;
      providers.remove(name, url);
    }
  }
}
