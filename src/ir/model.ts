/**
 * A Model: the main graph, opset imports, local functions and metadata, plus the folder that
 * external data locations are relative to.
 */
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import { NameAuthority } from './names.js';

export interface ModelFunction {
  readonly name: string;
  readonly domain: string;
  readonly overload: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Domain -> version the body's nodes are read at (the model's, for a well-formed model). */
  readonly opsetImports: Map<string, number>;
  /** The body: its inputs stand for the function's formal inputs. */
  readonly body: Graph;
  /** Opaque: the decoded FunctionProto. */
  readonly source: unknown;
}

export class Model {
  irVersion: number;
  /** Domain ("" for ai.onnx) -> version. Insertion order is the file order. */
  readonly opsetImports: Map<string, number>;
  producerName = '';
  producerVersion = '';
  domain = '';
  modelVersion = 0n;
  docString = '';
  metadataProps: [string, string][] = [];
  readonly graph: Graph;
  readonly functions: ModelFunction[] = [];
  /** The folder holding the model file: external data locations resolve against it. */
  baseDir: string | undefined;
  /** Deterministic fresh names for values and nodes, unique across the model. */
  readonly names: NameAuthority;
  /** Opaque: the decoded ModelProto. */
  source: unknown;

  constructor(graph: Graph, irVersion: number, opsetImports: Map<string, number>) {
    this.graph = graph;
    this.irVersion = irVersion;
    this.opsetImports = opsetImports;
    this.names = NameAuthority.forGraph(graph);
  }

  opsetVersion(domain = ''): number | undefined {
    return this.opsetImports.get(domain === 'ai.onnx' ? '' : domain);
  }

  /** Raise the opset of a domain to at least `version` (never lowers). */
  requireOpset(domain: string, version: number): void {
    const now = this.opsetImports.get(domain);
    if (now === undefined || now < version) this.opsetImports.set(domain, version);
  }

  requireIrVersion(v: number): void {
    if (this.irVersion < v) this.irVersion = v;
  }

  *allNodes(): Generator<Node> {
    yield* this.graph.allNodes();
  }
}
