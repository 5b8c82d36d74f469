"""A throwaway PostgreSQL cluster for suites that need one of their own (a standby, a
backend killed with kill -9): data in base/name, its Unix socket in base, a free port;
commands run as postgres when we are root (PostgreSQL refuses to run as root)."""
import os
import pwd
import socket
import subprocess
import tempfile
import time

import psycopg2

BINDIR = os.environ.get('PG_BINDIR', '/usr/lib/postgresql/15/bin')
PG_CONFIG = os.environ.get('PG_CONFIG', os.path.join(BINDIR, 'pg_config'))


def own_dir(prefix):
    """A temporary directory the clusters' owner can write to."""
    base = tempfile.mkdtemp(prefix=prefix)
    if os.geteuid() == 0:
        pw = pwd.getpwnam('postgres')
        os.chown(base, pw.pw_uid, pw.pw_gid)
    return base


def free_port():
    with socket.socket() as sk:
        sk.bind(('127.0.0.1', 0))
        return sk.getsockname()[1]


class Cluster:
    def __init__(self, base, name):
        self.root = os.geteuid() == 0
        self.user = 'postgres' if self.root else pwd.getpwuid(os.geteuid()).pw_name
        self.dir = base
        self.data = os.path.join(base, name)
        self.log = os.path.join(base, name + '.log')
        self.port = free_port()

    def run(self, *args):
        cmd = list(args)
        if self.root:
            cmd = ['runuser', '-u', 'postgres', '--'] + cmd
        return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=self.dir)

    def initdb(self):
        self.run(BINDIR + '/initdb', '-D', self.data, '-A', 'trust', '-U', self.user, '--no-sync')

    def start(self, *settings):
        """pg_ctl start; settings: more "-c name=value" options."""
        options = "-p %d -k %s -c listen_addresses=''" % (self.port, self.dir)
        self.run(BINDIR + '/pg_ctl', '-D', self.data, '-l', self.log, '-w', '-o',
                 ' '.join([options] + ['-c ' + s for s in settings]), 'start')

    def stop(self):
        try:
            self.run(BINDIR + '/pg_ctl', '-D', self.data, '-m', 'immediate', '-w', 'stop')
        except subprocess.CalledProcessError:
            pass

    def connect(self, db='postgres'):
        c = psycopg2.connect(host=self.dir, port=self.port, user=self.user, dbname=db)
        c.autocommit = True
        return c

    def execute(self, sql, db='postgres'):
        c = self.connect(db)
        try:
            c.cursor().execute(sql)
        finally:
            c.close()

    def wait_ready(self, db, timeout=90):
        """A connection once the server accepts one again (after crash recovery), and how long it took."""
        t = time.time()
        while True:
            try:
                conn = self.connect(db)
                conn.cursor().execute('SELECT 1')
                return conn, time.time() - t
            except psycopg2.Error:
                if time.time() - t > timeout:
                    raise
                time.sleep(0.1)

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ''


def citus_installed():
    """Whether Citus is installed for the PostgreSQL 15 we run."""
    try:
        libdir = subprocess.run([PG_CONFIG, '--pkglibdir'], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return False
    return os.path.exists(os.path.join(libdir, 'citus.so'))


def start_citus(base, db):
    """A Citus coordinator and two workers on 127.0.0.1 (their nodes reach each
    other by TCP), database db with the citus extension on each, the workers
    registered. Returns [coordinator, worker1, worker2]."""
    settings = ["listen_addresses=127.0.0.1", "shared_preload_libraries=citus", "max_prepared_transactions=100",
                "citus.node_conninfo=sslmode=disable", "fsync=off"]
    nodes = [Cluster(base, name) for name in ('coordinator', 'worker1', 'worker2')]
    try:
        for n in nodes:
            n.initdb()
            n.start(*settings)
            n.execute("CREATE DATABASE " + db)
            n.execute("CREATE EXTENSION citus", db)
        coordinator = nodes[0]
        coordinator.execute("SELECT citus_set_coordinator_host('127.0.0.1', %d)" % coordinator.port, db)
        for w in nodes[1:]:
            coordinator.execute("SELECT citus_add_node('127.0.0.1', %d)" % w.port, db)
    except Exception:
        for n in nodes:
            n.stop()  # those not started: pg_ctl fails, ignored
        raise
    return nodes
