import type { ServerResponse } from "node:http";
import type { Student } from "../grades/grades.ts";
import type { ServiceStatus } from "../registry/registration.ts";
import { HttpError } from "../std/http.ts";
import type { Route } from "../std/router.ts";
import type { ServiceContext } from "../service/start.ts";
import { openEventStream } from "./events.ts";
import { createFeed, type Feed } from "./feed.ts";
import { pageID, type GradingReader } from "./grading.ts";
import { html, type SafeHTML } from "./html.ts";
import { alert } from "./layout.ts";
import { followLog } from "./follow.ts";
import { parseLogFilter } from "./logfilter.ts";
import { logLines } from "./logs.ts";
import { queryOf } from "./respond.ts";
import { pageNumber, servicesSection } from "./services.ts";
import { grades, studentsTable } from "./students.ts";
import { poll, watchServices, type Watched } from "./watch.ts";
import type { Explain, Upstream } from "./upstream.ts";

/** Options of `createLiveRoutes`. */
export interface LiveOptions {
  upstream: Upstream;
  explain: Explain;
  /** Between two reads of the grading service for the students pages. */
  pollMs: number;
  /** How long one blocking query to the registry may wait. */
  waitSeconds: number;
  /** Largest list of services accepted from the registry. */
  maxListBytes: number;
}

/**
 * The event streams that keep open pages current (README "Teacher portal: live pages"): each page's
 * `data-events` region is replaced with the same markup its page renders, whenever it changed.
 * `/events/services` follows the registry with blocking queries; `/events/students` and
 * `/events/students/{id}` read the grading service every `pollMs` while someone watches;
 * `/events/logs` follows a log service's matching entries (each browser its own stream).
 * Streams end when the portal shuts down; browsers reconnect by themselves.
 */
export function createLiveRoutes(
  context: ServiceContext,
  grading: GradingReader,
  options: LiveOptions,
): Route[] {
  const { signal } = context;
  const { upstream, explain, pollMs } = options;
  const services = createFeed<Watched<ServiceStatus[]>>(
    (emit, stop) => watchServices(upstream, options, emit, stop),
    signal,
  );
  const students = createFeed<Watched<Student[]>>(
    (emit, stop) => poll(grading.students, pollMs, emit, stop),
    signal,
  );
  const perStudent = new Map<number, { feed: Feed<Watched<Student>>; watchers: number }>();

  /** Streams `feed` to the browser as "replace" events rendered by `render`. */
  const follow = <T>(res: ServerResponse, feed: Feed<Watched<T>>, render: (v: T) => SafeHTML) => {
    const stream = openEventStream(res, { signal });
    const unsubscribe = feed.subscribe((state) => {
      const markup = state.error === undefined ? render(state.value) : alert(state.error);
      stream.send("replace", markup.value);
    });
    stream.signal.addEventListener("abort", unsubscribe, { once: true });
    return stream.signal;
  };

  return [
    {
      path: "/events/services",
      methods: {
        GET: (req, res) => {
          const query = queryOf(req);
          const name = query.get("name") ?? undefined;
          const page = pageNumber(query.get("page"));
          follow(res, services, (list) =>
            servicesSection({
              services: name === undefined ? list : list.filter((s) => s.ServiceName === name),
              registryURL: upstream.registryURL,
              page,
              ...(name === undefined ? {} : { name }),
            }),
          );
        },
      },
    },
    {
      path: "/events/students",
      methods: { GET: (_req, res) => void follow(res, students, studentsTable) },
    },
    {
      path: "/events/students/:id",
      methods: {
        GET: (_req, res, params) => {
          const id = pageID(params["id"] ?? "");
          let entry = perStudent.get(id);
          if (entry === undefined) {
            const read = (stop: AbortSignal) => grading.student(id, stop);
            const feed = createFeed<Watched<Student>>(
              (emit, stop) => poll(read, pollMs, emit, stop),
              signal,
            );
            entry = { feed, watchers: 0 };
            perStudent.set(id, entry);
          }
          const watched = entry;
          watched.watchers += 1;
          const ended = follow(res, watched.feed, grades);
          ended.addEventListener("abort", () => {
            watched.watchers -= 1;
            if (watched.watchers === 0) perStudent.delete(id);
          }, { once: true });
        },
      },
    },
    {
      path: "/events/logs",
      methods: {
        GET: (req, res) => {
          const { filter, errors } = parseLogFilter(queryOf(req));
          const refused = Object.values(errors);
          if (refused.length > 0) throw new HttpError(400, refused.join("; "));
          const stream = openEventStream(res, { signal });
          const updates = {
            replace: (entries: string[]) => stream.send("replace", logLines(entries).value),
            append: (entries: string[]) => stream.send("append", logLines(entries).value),
            failed: (message: string) =>
              stream.send("append", html`<span class="error">${message}\n</span>`.value),
          };
          const follow = { providers: context.providers, explain, timeoutMs: upstream.timeoutMs };
          void followLog(filter, updates, follow, stream.signal);
        },
      },
    },
  ];
}
