/**
 * A Model: the main graph, opset imports, local functions and metadata, plus the folder that
 * external data locations are relative to.
 */
import { GraphCopier } from './clone.js';
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

  constructor(graph: Graph, irVersion: number, opsetImports: Map<string, number>, names?: NameAuthority) {
    this.graph = graph;
    this.irVersion = irVersion;
    this.opsetImports = opsetImports;
    this.names = names ?? NameAuthority.forGraph(graph);
  }

  /**
   * A copy to rewrite independently: graphs, nodes, values, use lists, functions and metadata
   * are new objects; tensor storage is shared, never copied (see clone.ts). Pass a copier to
   * find the copy of a value or node of this model afterwards (`copier.valueOf(v)`).
   */
  clone(copier = new GraphCopier()): Model {
    const graph = copier.copy(this.graph);
    const m = new Model(graph, this.irVersion, new Map(this.opsetImports), this.names.copyFor(graph));
    m.producerName = this.producerName;
    m.producerVersion = this.producerVersion;
    m.domain = this.domain;
    m.modelVersion = this.modelVersion;
    m.docString = this.docString;
    m.metadataProps = this.metadataProps.map(([k, v]) => [k, v]);
    m.functions.push(...this.functions.map((f) => ({ ...f, body: copier.copy(f.body) })));
    m.baseDir = this.baseDir;
    m.source = this.source;
    return m;
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
