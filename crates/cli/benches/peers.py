"""The trace bench's peers: the same time-respecting poison reachability as chaintrace's
discovery, answered by DuckDB (one recursive CTE) and by ladybug (the maintained fork of kuzu;
Cypher, one relaxation query per hop), both loaded from the bench's edge export of the store.

Usage: python peers.py DIR HOPS RUNS
  DIR/edges.csv  src,dst,k   one row per transfer with a non-zero amount, between layered nodes
                             (node = address id * ASSETS + asset id: funds keep their asset),
                             k = the transfer's chain-order rank
  DIR/nodes.csv  id,stop     every layered node; stop = not expanded (labelled pool or hub)
                             unless it is one of the run's seeds
  DIR/seeds-R.csv id         the layered nodes of run R's seed addresses (every asset)
Writes DIR/reach-PEER-R.txt (reached layered node ids, sorted) and prints one JSON line per peer:
{"peer", "version", "load_s", "query_ms": [per run]} or {"peer", "error"}.
"""

import json
import os
import sys
import time

DIR, HOPS, RUNS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
INF = 2**62


def write_reach(peer, run, ids):
    with open(os.path.join(DIR, f"reach-{peer}-{run}.txt"), "w") as f:
        for i in sorted(ids):
            f.write(f"{i}\n")


def duck():
    import duckdb

    t0 = time.time()
    c = duckdb.connect()
    c.execute(f"CREATE TABLE e AS SELECT * FROM read_csv('{DIR}/edges.csv', header=true, columns={{'src':'BIGINT','dst':'BIGINT','k':'BIGINT'}})")
    c.execute(f"CREATE TABLE n AS SELECT * FROM read_csv('{DIR}/nodes.csv', header=true, columns={{'id':'BIGINT','stop':'BOOLEAN'}})")
    # each edge with whether its sender is a stop (reached, never left — unless it is a seed)
    c.execute("CREATE TABLE x AS SELECT e.*, n.stop AS sstop FROM e JOIN n ON n.id = e.src")
    load = time.time() - t0
    times = []
    for r in range(RUNS):
        c.execute(f"CREATE OR REPLACE TABLE s AS SELECT * FROM read_csv('{DIR}/seeds-{r}.csv', header=true, columns={{'id':'BIGINT'}})")
        t = time.time()
        # B_h(v): the earliest arrival at v over exactly h time-respecting transfers; a node is
        # reached when some B_h with h <= HOPS exists. Seeds are expanded from before any
        # transfer and never re-entered.
        rows = c.execute(
            f"""
            WITH RECURSIVE b(node, hop, k) AS (
                SELECT id, 0, -1 FROM s
                UNION ALL
                SELECT x.dst, any_value(b.hop) + 1, min(x.k)
                FROM b JOIN x ON x.src = b.node AND x.k > b.k
                WHERE b.hop < {HOPS} AND (NOT x.sstop OR b.hop = 0) AND x.dst NOT IN (SELECT id FROM s)
                GROUP BY x.dst
            )
            SELECT DISTINCT node FROM b
            """
        ).fetchall()
        times.append((time.time() - t) * 1000)
        write_reach("duckdb", r, (row[0] for row in rows))
    return {"peer": "duckdb", "version": duckdb.__version__, "load_s": load, "query_ms": times}


def lady():
    import ladybug as lb

    t0 = time.time()
    path = os.path.join(DIR, "ladybug.db")
    if os.path.exists(path):
        if os.path.isdir(path):
            import shutil

            shutil.rmtree(path)
        else:
            os.remove(path)
    db = lb.Database(path)
    c = lb.Connection(db)
    c.execute("CREATE NODE TABLE N(id INT64, stop BOOLEAN, seed BOOLEAN DEFAULT false, prev INT64 DEFAULT 4611686018427387904, cur INT64 DEFAULT 4611686018427387904, reached BOOLEAN DEFAULT false, PRIMARY KEY(id))")
    c.execute("CREATE REL TABLE E(FROM N TO N, k INT64)")
    c.execute(f"COPY N(id, stop) FROM '{DIR}/nodes.csv' (header=true)")
    c.execute(f"COPY E FROM '{DIR}/edges.csv' (header=true)")
    load = time.time() - t0
    times = []
    for r in range(RUNS):
        seeds = [int(l) for l in open(os.path.join(DIR, f"seeds-{r}.csv")).read().split()[1:]]
        c.execute(f"MATCH (n:N) SET n.seed = false, n.prev = {INF}, n.cur = {INF}, n.reached = false")
        t = time.time()
        c.execute(f"MATCH (n:N) WHERE n.id IN $s SET n.seed = true, n.prev = -1, n.reached = true", {"s": seeds})
        for _ in range(HOPS):
            # one hop: earliest arrival over exactly one more transfer after the previous level's
            c.execute(
                f"MATCH (u:N) WHERE u.prev < {INF} AND (NOT u.stop OR u.seed) "
                "MATCH (u)-[e:E]->(v:N) WHERE e.k > u.prev AND NOT v.seed "
                "WITH v, min(e.k) AS k SET v.cur = k, v.reached = true"
            )
            c.execute(f"MATCH (n:N) WHERE n.prev < {INF} OR n.cur < {INF} SET n.prev = n.cur, n.cur = {INF}")
        res = c.execute("MATCH (n:N) WHERE n.reached RETURN n.id")
        ids = []
        while res.has_next():
            ids.append(res.get_next()[0])
        times.append((time.time() - t) * 1000)
        write_reach("ladybug", r, ids)
    return {"peer": "ladybug", "version": lb.__version__ if hasattr(lb, "__version__") else lb.version, "load_s": load, "query_ms": times}


for name, f in (("duckdb", duck), ("ladybug", lady)):
    try:
        print(json.dumps(f()), flush=True)
    except Exception as e:  # a missing or failing peer is reported, the bench goes on
        print(json.dumps({"peer": name, "error": f"{type(e).__name__}: {e}"}), flush=True)
