import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code } from "../api/code.js";
import { defineService, type MethodOptions, type MethodDefinition, type ServiceDefinition } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";
import { methodLocalName } from "../api/method-names.js";
import { resolveMethodOptions, resolveServiceDefaults } from "./method-options-from-descriptor.js";
import type { OptionProblems } from "./retry-policy-option.js";

const services = new WeakMap<DescService, ServiceDefinition>();

/**
 * airlock's definition of a service built from its protobuf-es descriptor alone (protoc-gen-es
 * output, no airlock codegen), with airlock's options read from the descriptor by the same
 * rules as protoc-gen-airlock; built once per service. Throws INVALID_ARGUMENT naming every
 * mistake in the options.
 */
export function serviceDefinitionOf(service: DescService): ServiceDefinition {
  let definition = services.get(service);
  if (definition) return definition;
  const problems = new ProblemList();
  const defaults = resolveServiceDefaults(service, problems);
  const options: Record<string, MethodOptions> = {};
  for (const method of service.methods) options[methodLocalName(method)] = resolveMethodOptions(method, defaults, problems);
  if (problems.count > 0) {
    throw new AirlockError(Code.InvalidArgument, `${service.typeName} has invalid airlock options: ${problems.messages.join("; ")}`);
  }
  definition = defineService(service, options);
  services.set(service, definition);
  return definition;
}

/** The definition of one method, from its service's (see serviceDefinitionOf). */
export function methodDefinitionOf(method: DescMethod): MethodDefinition {
  return serviceDefinitionOf(method.parent).methods[methodLocalName(method)]!;
}

class ProblemList implements OptionProblems {
  readonly messages: string[] = [];
  add(desc: DescMethod | DescService, message: string): void {
    this.messages.push(`${desc.kind === "rpc" ? `${desc.parent.typeName}.${desc.name}` : desc.typeName}: ${message}`);
  }
  get count(): number {
    return this.messages.length;
  }
}
