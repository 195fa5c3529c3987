# A rotel trace processor that only counts spans (no per-span work), for throughput runs:
# after each batch it rewrites the running total to TRACE_LLM_COUNT_FILE.
import os

OUT = os.environ["TRACE_LLM_COUNT_FILE"]
TOTAL = 0


def process_spans(resource_spans):
    global TOTAL
    for scope_spans in resource_spans.scope_spans:
        TOTAL += len(scope_spans.spans)
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(TOTAL))
    os.replace(tmp, OUT)
