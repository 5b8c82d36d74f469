-- cascade_delete 0.1.0 -> 0.2.0. A new installation runs the 0.1.0 script and
-- then this one (PostgreSQL's update path), so both reach the same objects.
\echo Use "ALTER EXTENSION cascade_delete UPDATE TO '0.2.0'" to load this file. \quit

-- Policies whose table is gone, or is temporary: 0.1.0 accepted temporary
-- tables, which end without the event that drops their policies, and left the
-- policies of tables dropped under session_replication_role = replica.
DELETE FROM @extschema@.cascade_delete_policy p
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c
                  WHERE c.oid OPERATOR(pg_catalog.=) p.child
                    AND c.relpersistence OPERATOR(pg_catalog.<>) 't')
   OR NOT EXISTS (SELECT FROM pg_catalog.pg_class c
                  WHERE c.oid OPERATOR(pg_catalog.=) p.parent
                    AND c.relpersistence OPERATOR(pg_catalog.<>) 't');

-- The event trigger fires under session_replication_role = replica too.
ALTER EVENT TRIGGER cascade_delete_drop_policies ENABLE ALWAYS;

-- Column numbers follow the names whenever a row is written without
-- cascade_delete_set_policy(): pg_restore and pg_dumpall (a restored table
-- has no dropped columns, so its columns are numbered anew), logical
-- replication, a superuser's repair. A rename, drop or type change made later
-- still shows as a changed number (see catalog.cpp).
CREATE FUNCTION @extschema@.cascade_delete_policy_column_numbers()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.attnums := ARRAY(
        SELECT coalesce((SELECT a.attnum FROM pg_attribute a
                         WHERE a.attrelid = NEW.child AND a.attname = c.name AND NOT a.attisdropped), 0)
        FROM unnest(NEW.columns) WITH ORDINALITY c(name, n) ORDER BY c.n);
    NEW.parent_attnums := ARRAY(
        SELECT coalesce((SELECT a.attnum FROM pg_attribute a
                         WHERE a.attrelid = NEW.parent AND a.attname = c.name AND NOT a.attisdropped), 0)
        FROM unnest(NEW.parent_columns) WITH ORDINALITY c(name, n) ORDER BY c.n);
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.cascade_delete_policy_column_numbers() FROM PUBLIC;
CREATE TRIGGER cascade_delete_policy_column_numbers
    BEFORE INSERT OR UPDATE OF child, columns, parent, parent_columns
    ON @extschema@.cascade_delete_policy
    FOR EACH ROW EXECUTE FUNCTION @extschema@.cascade_delete_policy_column_numbers();
ALTER TABLE @extschema@.cascade_delete_policy ENABLE ALWAYS TRIGGER cascade_delete_policy_column_numbers;

-- Any committed change of the policy table, however made, is seen by the next
-- call of every session (they cache the table graph). Row triggers, because
-- logical replication's apply worker fires no statement triggers; TRUNCATE has
-- only a statement trigger.
CREATE FUNCTION @extschema@.cascade_delete_policy_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'cascade_delete_policy_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION @extschema@.cascade_delete_policy_changed() FROM PUBLIC;
CREATE TRIGGER cascade_delete_policy_changed
    AFTER INSERT OR UPDATE OR DELETE ON @extschema@.cascade_delete_policy
    FOR EACH ROW EXECUTE FUNCTION @extschema@.cascade_delete_policy_changed();
CREATE TRIGGER cascade_delete_policy_truncated
    AFTER TRUNCATE ON @extschema@.cascade_delete_policy
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.cascade_delete_policy_changed();
ALTER TABLE @extschema@.cascade_delete_policy ENABLE ALWAYS TRIGGER cascade_delete_policy_changed;
ALTER TABLE @extschema@.cascade_delete_policy ENABLE ALWAYS TRIGGER cascade_delete_policy_truncated;

-- The policies as SQL, for carrying them where pg_dump does not: a dump of
-- some schemas (-n) does not include the extension's policy table, and a dump
-- that leaves out a table (-T) holds policies naming it, which fail to restore.
CREATE FUNCTION @extschema@.cascade_delete_policies_sql(tables regclass[] DEFAULT NULL,
                                                        schemas name[] DEFAULT NULL)
RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('SELECT %I.cascade_delete_set_policy(%L, %L, %L, value => %L, parent => %L, '
                  'parent_columns => %L, parent_link => %L, type_column => %L, type_value => %L);',
                  '@extschema@', p.child::regclass::text, p.columns::text[], p.action, p.value,
                  p.parent::regclass::text, p.parent_columns::text[], p.parent_link,
                  p.type_column, p.type_value)
    FROM @extschema@.cascade_delete_policy p
    JOIN pg_class c ON c.oid = p.child
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE (tables IS NULL AND schemas IS NULL) OR p.child = ANY (tables) OR n.nspname = ANY (schemas)
    -- a generic relation after the plain policy on the same columns, which replaces it
    ORDER BY n.nspname, c.relname, p.columns::text[], p.type_column IS NOT NULL, p.parent::regclass::text
$$;
COMMENT ON FUNCTION @extschema@.cascade_delete_policies_sql(regclass[], name[]) IS
    'The policies of the given tables, or of the tables in the given schemas (all when both are NULL), as cascade_delete_set_policy() calls';
