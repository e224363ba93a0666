import { Code, ConnectError, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";

/**
 * Registers every RPC of `service` as an honest `Unimplemented` answer with a message naming
 * the RPC: the API is declared in full from the start (issue 2), and a client must never
 * mistake a placeholder for a real, empty answer.
 */
export function unimplementedRoutes(service: DescService): (router: ConnectRouter) => void {
  const fail = (rpc: string): ConnectError =>
    new ConnectError(`${service.typeName}.${rpc} is not implemented yet`, Code.Unimplemented);
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    impl[method.localName] =
      method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming"
        ? async function* unimplementedStream() {
            throw fail(method.name);
          }
        : () => {
            throw fail(method.name);
          };
  }
  return (router) => {
    router.service(service, impl as Partial<ServiceImpl<DescService>>);
  };
}
