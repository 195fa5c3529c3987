# A rotel metrics processor that appends every metric it receives (histogram points with
# their attributes, counts, sums and buckets) to a JSON-lines file. Kept apart from
# record.py: rotel loads each processor file into one interpreter, and a second
# `process_spans` would replace the trace processor's.
import json
import os

METRICS_OUT = os.environ["TRACE_LLM_METRICS_FILE"]


def items(sequence):
    """Items of an SDK list type (they support indexing, not always iteration)."""
    i = 0
    while True:
        try:
            yield sequence[i]
        except IndexError:
            return
        i += 1


def value(any_value):
    if any_value is None:
        return None
    v = any_value.value
    if isinstance(v, (str, bool, int, float)) or v is None:
        return v
    if isinstance(v, bytes):
        return v.hex()
    kind = type(v).__name__
    if kind == "ArrayValue":
        return [value(x) for x in items(v)]
    if kind == "KeyValueList":
        return {kv.key: value(kv.value) for kv in items(v)}
    return str(v)


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


def process_metrics(resource_metrics):
    resource = attributes(resource_metrics.resource.attributes) if resource_metrics.resource else {}
    lines = []
    for scope_metrics in resource_metrics.scope_metrics:
        scope = scope_metrics.scope.name if scope_metrics.scope else None
        for metric in scope_metrics.metrics:
            data = metric.data
            kind = type(data).__name__.split(".")[-1]
            points = []
            if "Histogram" in kind and "Exponential" not in kind:
                histogram = data[0]
                for p in histogram.data_points:
                    points.append({
                        "attributes": attributes(p.attributes),
                        "count": p.count,
                        "sum": p.sum,
                        "bucket_counts": list(p.bucket_counts),
                        "explicit_bounds": list(p.explicit_bounds),
                    })
            lines.append(json.dumps({
                "name": metric.name,
                "unit": metric.unit,
                "kind": kind,
                "scope": scope,
                "resource": resource,
                "points": points,
            }))
    if lines:
        with open(METRICS_OUT, "a") as f:
            f.write("\n".join(lines) + "\n")
