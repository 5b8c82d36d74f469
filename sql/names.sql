-- Mixed-case, quoted and odd identifiers, and tables in several schemas: the
-- generated SQL quotes every identifier; the report names tables as
-- regclass::text would, always schema-qualified.
\set SHOW_CONTEXT never
CREATE SCHEMA "Sales Dept";
CREATE SCHEMA "we""ird;schema";
CREATE TABLE "Sales Dept"."Customer" ("Customer ID" int PRIMARY KEY);
CREATE TABLE "we""ird;schema"."order; DROP TABLE x" (
    "id""" int PRIMARY KEY,
    "Customer ID" int REFERENCES "Sales Dept"."Customer" ON DELETE CASCADE);
CREATE TABLE public."Größe" (id int PRIMARY KEY,
    "order ref" int REFERENCES "we""ird;schema"."order; DROP TABLE x" ON DELETE SET NULL);
INSERT INTO "Sales Dept"."Customer" VALUES (1), (2);
INSERT INTO "we""ird;schema"."order; DROP TABLE x" VALUES (10, 1), (20, 2);
INSERT INTO public."Größe" VALUES (100, 10), (200, 20);

SELECT cascade_delete('"Sales Dept"."Customer"', 1);
SELECT * FROM "we""ird;schema"."order; DROP TABLE x" ORDER BY 1;
SELECT * FROM public."Größe" ORDER BY id;

SET client_min_messages = warning;
DROP SCHEMA "Sales Dept" CASCADE;
DROP SCHEMA "we""ird;schema" CASCADE;
DROP TABLE public."Größe";
