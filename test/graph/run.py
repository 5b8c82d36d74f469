#!/usr/bin/python3
"""cascade_delete_graph rendered by Graphviz.

Builds the demo's schema (test/demo_schema.sql) and one with every kind of
edge and awkward names in a scratch database, renders cascade_delete_graph()'s
DOT with `dot -Tsvg` (Debian's graphviz) and checks that Graphviz accepts it
without a warning, that the SVG is well-formed XML, and that it has one node
per table and one edge per foreign key or policy, labelled with the action.
With --write FILE: only writes the demo schema's picture (`make graph`).

Needs PGHOST / PGPORT / PGUSER (a superuser) and the extension installed.
Prints `graph: N passed, M failed` last; exits non-zero on a failure.
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tally import Tally  # noqa: E402
import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
DB = 'graph_%d' % os.getpid()
TALLY = Tally('graph')
check = TALLY.check

# Every action, a policy without a constraint, a parent link, a generic
# relation, a self-reference, a partition and names that need quoting.
EDGES_SCHEMA = '''
CREATE EXTENSION cascade_delete;
CREATE SCHEMA "Odd ""schema""";
SET search_path = "Odd ""schema""", public;
CREATE TABLE "Place" (id int PRIMARY KEY);
CREATE TABLE restaurant (place_ptr_id int PRIMARY KEY REFERENCES "Place");
CREATE TABLE "line|x<y>" (id int PRIMARY KEY, place_id int REFERENCES "Place" ON DELETE CASCADE);
CREATE TABLE p_restrict (id int PRIMARY KEY, place_id int REFERENCES "Place" ON DELETE RESTRICT);
CREATE TABLE p_noaction (id int PRIMARY KEY, place_id int REFERENCES "Place");
CREATE TABLE p_setnull (id int PRIMARY KEY, place_id int REFERENCES "Place" ON DELETE SET NULL);
CREATE TABLE p_setdefault (id int PRIMARY KEY, place_id int DEFAULT 0 REFERENCES "Place" ON DELETE SET DEFAULT);
CREATE TABLE p_protect (id int PRIMARY KEY, place_id int);
CREATE TABLE p_donothing (id int PRIMARY KEY, place_id int);
CREATE TABLE p_setvalue (id int PRIMARY KEY, place_id int);
CREATE TABLE comment (id int PRIMARY KEY, ct text, oid int);
CREATE TABLE emp (id int PRIMARY KEY, boss int REFERENCES emp ON DELETE CASCADE);
CREATE TABLE ev (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM (0) TO (10);
CREATE TABLE ev_ref (id int PRIMARY KEY, ev_id int REFERENCES ev_1 ON DELETE CASCADE);
SELECT cascade_delete_set_policy('restaurant', '{place_ptr_id}', 'CASCADE', parent_link => true);
SELECT cascade_delete_set_policy('p_protect', '{place_id}', 'PROTECT', parent => '"Place"');
SELECT cascade_delete_set_policy('p_donothing', '{place_id}', 'DO_NOTHING', parent => '"Place"');
SELECT cascade_delete_set_policy('p_setvalue', '{place_id}', 'SET', value => '7', parent => '"Place"');
SELECT cascade_delete_set_policy('comment', '{oid}', 'CASCADE', parent => '"Place"',
                                 type_column => 'ct', type_value => 'place');
'''




def render(dot_text):
    r = subprocess.run(['dot', '-Tsvg'], input=dot_text, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def svg_graph(svg):
    """Node labels and edge labels of an SVG that Graphviz wrote."""
    ns = {'s': 'http://www.w3.org/2000/svg'}
    root = ET.fromstring(svg)
    nodes, edges = [], []
    for g in root.iter('{http://www.w3.org/2000/svg}g'):
        texts = [''.join(t.itertext()) for t in g.findall('s:text', ns)]
        if g.get('class') == 'node':
            nodes.append(texts)
        elif g.get('class') == 'edge':
            edges.append(' '.join(texts))
    return nodes, edges


def main():
    write = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == '--write' else None
    admin = psycopg2.connect(dbname='postgres')
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute('DROP DATABASE IF EXISTS %s' % DB)
    cur.execute('CREATE DATABASE %s' % DB)
    try:
        conn = psycopg2.connect(dbname=DB)
        conn.autocommit = True
        k = conn.cursor()
        with open(os.path.join(HERE, '..', 'demo_schema.sql')) as f:
            k.execute(f.read())
        k.execute("SELECT cascade_delete_graph('a')")
        demo = k.fetchone()[0]
        if write:
            conn.close()
            code, svg, err = render(demo)
            if code != 0:
                sys.exit('dot failed: ' + err)
            with open(write, 'w') as f:
                f.write(svg)
            print('graph: wrote %s (%d bytes)' % (write, len(svg)))
            return
        code, svg, err = render(demo)
        check(code == 0 and not err.strip(), 'dot -Tsvg renders the demo schema without a warning %s' % err.strip())
        nodes, edges = svg_graph(svg)
        names = sorted(n[0] for n in nodes)
        check(names == ['public.a', 'public.audit', 'public.b', 'public.c', 'public.invoice', 'public.tag'],
              'the demo picture has a node per table: %s' % names)
        check(sorted(edges) == sorted(['CASCADE (a_id)', 'CASCADE (b_id)', 'policy DO_NOTHING (a_id)',
                                       'PROTECT (a_id)', 'policy SET_NULL (b_id)']),
              'and an edge per policy, labelled with its action: %s' % sorted(edges))

        conn.close()
        cur.execute('DROP DATABASE %s' % DB)
        cur.execute('CREATE DATABASE %s' % DB)
        conn = psycopg2.connect(dbname=DB)
        conn.autocommit = True
        k = conn.cursor()
        k.execute(EDGES_SCHEMA)
        k.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conparentid = 0")
        fks = k.fetchone()[0]
        k.execute('SELECT count(*) FROM cascade_delete_policy p WHERE NOT EXISTS (SELECT FROM pg_constraint c '
                  "WHERE c.contype = 'f' AND c.conrelid = p.child AND c.confrelid = p.parent)")
        policies_only = k.fetchone()[0]
        for fmt in ('dot', 'mermaid'):
            k.execute("SELECT cascade_delete_graph(NULL, %s)", (fmt,))
            text = k.fetchone()[0]
            if fmt == 'mermaid':
                arrows = [l for l in text.splitlines() if '-->' in l or '==>' in l or '-.->' in l]
                # restaurant's parent link adds a reversed edge; the partition ev_1, which a key
                # references, an edge from its partitioned table
                check(len(arrows) == fks + policies_only + 1 + 1,
                      'mermaid: %d links for %d foreign keys, %d policy-only keys, a parent link and a '
                      'partition' % (len(arrows), fks, policies_only))
                check('#quot;' in text and '#124;' in text and '#lt;' in text,
                      'mermaid: quotes, bars and angle brackets in names are entities')
                continue
            code, svg, err = render(text)
            check(code == 0 and not err.strip(), 'dot -Tsvg renders every kind of edge without a warning %s'
                  % err.strip())
            nodes, edges = svg_graph(svg)
            labels = sorted(n[0] for n in nodes)
            check('"Odd ""schema""".restaurant' in labels and '"Odd ""schema"""."line|x<y>"' in labels,
                  'names that need quoting survive DOT and SVG: %s' % labels[:3])
            check(len(edges) == fks + policies_only + 1 + 1, 'dot: %d edges' % len(edges))
            for action in ('CASCADE', 'RESTRICT', 'NO ACTION', 'SET_NULL', 'SET_DEFAULT', 'policy PROTECT',
                           'policy DO_NOTHING', 'policy SET', 'parent link', 'partition'):
                check(any(e.startswith(action) for e in edges), 'an edge labelled %s' % action)
        conn.close()
    finally:
        cur.execute('DROP DATABASE IF EXISTS %s' % DB)
    TALLY.finish()


if __name__ == '__main__':
    main()
