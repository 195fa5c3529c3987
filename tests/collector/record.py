# A rotel trace processor that appends every span it receives to a JSON-lines file, with
# typed attribute values (ints stay ints, doubles stay doubles, arrays stay arrays), so the
# end-to-end tests can check exactly what crossed the wire.
import json
import os

OUT = os.environ["TRACE_LLM_SPANS_FILE"]


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


def status_code(status):
    if status is None or status.code is None:
        return 0
    code = status.code
    return int(getattr(code, "value", code))


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


def process_spans(resource_spans):
    resource = attributes(resource_spans.resource.attributes) if resource_spans.resource else {}
    lines = []
    for scope_spans in resource_spans.scope_spans:
        scope = scope_spans.scope
        scope_info = {
            "name": scope.name if scope else None,
            "version": scope.version if scope else None,
            "schema_url": scope_spans.schema_url,
        }
        for span in scope_spans.spans:
            status = span.status
            lines.append(json.dumps({
                "trace_id": span.trace_id.hex(),
                "span_id": span.span_id.hex(),
                "parent_span_id": span.parent_span_id.hex(),
                "name": span.name,
                "kind": span.kind,
                "start": span.start_time_unix_nano,
                "end": span.end_time_unix_nano,
                "status_code": status_code(status),
                "status_message": status.message if status else "",
                "attributes": attributes(span.attributes),
                "events": [{"name": e.name, "attributes": attributes(e.attributes)} for e in span.events],
                "resource": resource,
                "scope": scope_info,
            }))
    if lines:
        with open(OUT, "a") as f:
            f.write("\n".join(lines) + "\n")

