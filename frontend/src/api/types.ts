// Names for the backend's answers the dashboard reads. Each is the answer type of its route in the schema
// generated from the backend's OpenAPI document (schema.d.ts, `npm run gen:api`), as the client hands it
// back, so a contract change in the backend breaks the type check of `npm run build` instead of a user.
// Only what the contract itself declares free-form is narrowed here.
import type { ClientPathsWithMethod, MethodResponse } from "openapi-fetch";
import type { client } from "./client";
import type { components } from "./schema";

type Schemas = components["schemas"];
type Client = typeof client;
/** The answer of `GET path`. */
type Answer<P extends ClientPathsWithMethod<Client, "get">> = MethodResponse<Client, "get", P>;

// Request bodies.
export type InstallRequest = Schemas["InstallRequest"];
export type DagSpec = Schemas["DagSpec"];
export type StageSpec = Schemas["StageSpec"];

// Answers.
export type Policy = Answer<"/api/policies">[number];
export type Service = Answer<"/api/services">[number];
export type NodeInfo = Answer<"/api/nodes">[number];
export type DagInfo = Answer<"/api/dags">[number];
export type Datasource = Answer<"/api/datasources">[number];
export type DatasourceSource = Datasource["config"]["sources"][number];
export type UploadReport = MethodResponse<Client, "post", "/api/datasources">;
export type UploadResult = UploadReport["results"][number];
export type VideoAdded = MethodResponse<Client, "post", "/api/datasources/video">;
/** The install state with the emulated links. */
export type InstallState = Answer<"/api/install">;
export type Instance = Answer<"/api/instances">[number];
export type QueryState = Answer<"/api/query">;
export type SourceInfo = Answer<"/api/sources">[number];
export type ViewCatalog = Answer<"/api/visualizations/catalog">;
export type SourceViews = Answer<"/api/visualizations/{source_id}">;
export type ViewSpec = SourceViews["views"][number];
export type ResultPage = Answer<"/api/results/{source_id}">;
/** One result or drop record with its visualization variables. */
export type ResultRecord = ResultPage["records"][number];
export type SystemHistory = Answer<"/api/system/history">;
export type SystemSnapshot = SystemHistory["snapshots"][number];
export type TraceList = Answer<"/api/traces">;
export type TraceInfo = TraceList["traces"][number];
export type PolicyBench = Answer<"/api/bench/policies">;
export type BenchSuite = NonNullable<PolicyBench["suite"]>;
export type BenchCase = BenchSuite["cases"][number];
export type PolicyCase = BenchCase["policies"][number];
export type BenchRun = PolicyCase["runs"][number];
export type CaseFigures = PolicyCase["figures"];
export type FigureStat = CaseFigures[keyof CaseFigures];

/** A box found by a stage: the contract keeps these free-form (each application adds its own keys). */
export interface DetectedObject {
  box?: number[];
  label?: string | null;
  text?: string | null;
  score?: number | null;
  frame_index?: number | null;
}

export function detectedObjects(record: ResultRecord | null | undefined): DetectedObject[] {
  return (record?.objects ?? []) as DetectedObject[];
}
