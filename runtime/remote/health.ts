import { create, createFileRegistry, type DescEnum, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code as ConnectCode, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { once } from "node:events";
import type { Pool } from "../api/pool-options.js";

// gRPC's health checking protocol (grpc/health/v1/health.proto), described here rather than
// generated: the three methods and four messages are all a server needs, and every gRPC
// health client (grpc_health_probe, Kubernetes' gRPC probes, grpc-js) speaks to it.
const { OPTIONAL: optional, REPEATED: repeated } = FieldDescriptorProto_Label;
const { STRING: string, ENUM: enumType, MESSAGE: message } = FieldDescriptorProto_Type;
const healthFile = create(FileDescriptorProtoSchema, {
  name: "grpc/health/v1/health.proto",
  package: "grpc.health.v1",
  syntax: "proto3",
  messageType: [
    { name: "HealthCheckRequest", field: [{ name: "service", number: 1, label: optional, type: string, jsonName: "service" }] },
    {
      name: "HealthCheckResponse",
      field: [{ name: "status", number: 1, label: optional, type: enumType, typeName: ".grpc.health.v1.HealthCheckResponse.ServingStatus", jsonName: "status" }],
      enumType: [{ name: "ServingStatus", value: ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"].map((name, number) => ({ name, number })) }],
    },
    { name: "HealthListRequest" },
    {
      name: "HealthListResponse",
      field: [{ name: "statuses", number: 1, label: repeated, type: message, typeName: ".grpc.health.v1.HealthListResponse.StatusesEntry", jsonName: "statuses" }],
      nestedType: [
        {
          name: "StatusesEntry",
          options: { mapEntry: true },
          field: [
            { name: "key", number: 1, label: optional, type: string, jsonName: "key" },
            { name: "value", number: 2, label: optional, type: message, typeName: ".grpc.health.v1.HealthCheckResponse", jsonName: "value" },
          ],
        },
      ],
    },
  ],
  service: [
    {
      name: "Health",
      method: [
        { name: "Check", inputType: ".grpc.health.v1.HealthCheckRequest", outputType: ".grpc.health.v1.HealthCheckResponse" },
        { name: "List", inputType: ".grpc.health.v1.HealthListRequest", outputType: ".grpc.health.v1.HealthListResponse" },
        { name: "Watch", inputType: ".grpc.health.v1.HealthCheckRequest", outputType: ".grpc.health.v1.HealthCheckResponse", serverStreaming: true },
      ],
    },
  ],
});
const registry = createFileRegistry(healthFile, () => undefined);

/** grpc.health.v1.Health, as a protobuf-es descriptor. */
export const HealthService = registry.getService("grpc.health.v1.Health") as DescService;
const ServingStatus = registry.getEnum("grpc.health.v1.HealthCheckResponse.ServingStatus") as DescEnum;
const CheckResponse = registry.getMessage("grpc.health.v1.HealthCheckResponse") as DescMessage;
const ListResponse = registry.getMessage("grpc.health.v1.HealthListResponse") as DescMessage;

const status = (name: string) => ServingStatus.values.find((value) => value.name === name)!.number;
const [serving, notServing, serviceUnknown] = [status("SERVING"), status("NOT_SERVING"), status("SERVICE_UNKNOWN")];

/** The health of a pool server: SERVING while the pool's circuit is closed, NOT_SERVING while it is open or the server drains. */
export class PoolHealth {
  private circuitOpen = false;
  private draining = false;
  private readonly changed = new EventTarget();
  private readonly unsubscribe: () => void;

  /** Follows `pool`'s circuit from now on; `services` are the names a check may ask about, besides "" (the whole server). */
  constructor(pool: Pool, private readonly services: readonly string[]) {
    this.unsubscribe = pool.on((event) => {
      if (event.type === "circuit-opened") this.set(() => (this.circuitOpen = true));
      if (event.type === "circuit-closed") this.set(() => (this.circuitOpen = false));
    });
  }

  /** Whether calls are being taken now. */
  get serving(): boolean {
    return !this.circuitOpen && !this.draining;
  }

  /** Turns NOT_SERVING for good, so that load balancers move away before the server closes. */
  drain(): void {
    this.draining = true;
    this.unsubscribe();
    // Wakes every watch, which then sends NOT_SERVING (if it had not) and ends.
    this.changed.dispatchEvent(new Event("change"));
  }

  /** Registers grpc.health.v1.Health on `router`. */
  register(router: ConnectRouter): void {
    router.service(HealthService, {
      check: (request: { service: string }) => {
        if (!this.knows(request.service)) throw new ConnectError(`unknown service ${request.service}`, ConnectCode.NotFound);
        return create(CheckResponse, { status: this.status() });
      },
      list: () => {
        const statuses = Object.fromEntries(["", ...this.services].map((name) => [name, create(CheckResponse, { status: this.status() })]));
        return create(ListResponse, { statuses });
      },
      watch: (request: { service: string }, context: HandlerContext) => this.watch(request.service, context.signal),
    } as never);
  }

  private async *watch(service: string, signal: AbortSignal): AsyncIterable<object> {
    if (!this.knows(service)) {
      yield create(CheckResponse, { status: serviceUnknown });
      return;
    }
    // A change while the client had not asked for the next message yet is sent when it does.
    let sent: number | undefined;
    for (;;) {
      const now = this.status();
      if (now !== sent) {
        sent = now;
        yield create(CheckResponse, { status: now });
        continue;
      }
      if (this.draining) return;
      await once(this.changed, "change", { signal }).catch(() => undefined);
      if (signal.aborted) return;
    }
  }

  private status(): number {
    return this.serving ? serving : notServing;
  }

  private knows(service: string): boolean {
    return service === "" || this.services.includes(service);
  }

  private set(change: () => void): void {
    const before = this.serving;
    change();
    if (this.serving !== before) this.changed.dispatchEvent(new Event("change"));
  }
}
