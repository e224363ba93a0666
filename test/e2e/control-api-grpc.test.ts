import { join } from "node:path";
import test from "ava";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { normalServer, repoRoot, startDaemon, waitForRunning } from "./helpers/daemon-process.js";

// A third-party client: @grpc/grpc-js with the .proto files loaded at run time (no generated
// code of ours), over the daemon's unix socket. This is what `buf curl` or a Go/Python
// client would do.

interface GrpcServiceClient extends grpc.Client {
  [method: string]: unknown;
}

function loadClients(socketPath: string): { gateway: GrpcServiceClient; servers: GrpcServiceClient } {
  const definition = protoLoader.loadSync(
    ["deploystack/gateway/v1/gateway_service.proto", "deploystack/gateway/v1/server_service.proto"],
    { includeDirs: [join(repoRoot, "proto")], keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true },
  );
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    deploystack: { gateway: { v1: Record<string, new (target: string, credentials: grpc.ChannelCredentials) => GrpcServiceClient> } };
  };
  const v1 = loaded.deploystack.gateway.v1;
  const target = `unix://${socketPath}`;
  const credentials = grpc.credentials.createInsecure();
  return { gateway: new v1.GatewayService(target, credentials), servers: new v1.ServerService(target, credentials) };
}

test("grpc-js: a unary call and a server stream", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha")] });
  await waitForRunning(daemon, ["alpha"]);
  const { gateway, servers } = loadClients(daemon.paths.controlSocket);
  t.teardown(() => {
    gateway.close();
    servers.close();
  });

  const status = await new Promise<{ pid: number; servers: { total: number }; controlSocket: string }>((resolve, reject) => {
    (gateway.getStatus as (req: object, cb: (error: grpc.ServiceError | null, res: never) => void) => void).call(gateway, {}, (error, res) =>
      error ? reject(error) : resolve(res),
    );
  });
  t.is(status.pid, daemon.pid);
  t.is(status.servers.total, 1);
  t.is(status.controlSocket, daemon.paths.controlSocket);

  const list = await new Promise<{ servers: Array<{ name: string; state: string }> }>((resolve, reject) => {
    (servers.listServers as (req: object, cb: (error: grpc.ServiceError | null, res: never) => void) => void).call(servers, {}, (error, res) =>
      error ? reject(error) : resolve(res),
    );
  });
  t.deepEqual(
    list.servers.map((server) => [server.name, server.state]),
    [["alpha", "SERVER_STATE_RUNNING"]],
  );

  const lines = await new Promise<string[]>((resolve, reject) => {
    const call = (servers.streamServerLogs as (req: object) => grpc.ClientReadableStream<{ line: { text: string } }>).call(servers, {
      name: "alpha",
      tailLines: 5,
    });
    const received: string[] = [];
    call.on("data", (message) => received.push(message.line.text));
    call.on("error", reject);
    call.on("end", () => resolve(received));
  });
  t.true(lines.length >= 1 && lines.length <= 5);
  t.true(lines.some((line) => /normal server \d+ starting/.test(line)), lines.join("\n"));

  const notFound = await new Promise<grpc.ServiceError>((resolve) => {
    (servers.getServer as (req: object, cb: (error: grpc.ServiceError | null) => void) => void).call(servers, { name: "nope" }, (error) =>
      resolve(error as grpc.ServiceError),
    );
  });
  t.is(notFound.code, grpc.status.NOT_FOUND);
  t.is(notFound.details, 'server "nope" not found');
});
