"""Redis servers of a test's own, on free loopback ports, without
persistence: a single node, and a three-node cluster with TLS and an AUTH
token as ElastiCache runs them. Never the machine's shared Redis."""

import datetime
import ipaddress
import os
import random
import shutil
import signal
import socket
import subprocess
import time

import redis


def free_port():
    """A loopback TCP port nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(('127.0.0.1', port))
        except OSError:
            return False
    return True


def free_cluster_port(taken=()):
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _i in range(200):
        port = random.randint(20000, 29999)
        if port not in taken and _port_is_free(port) and \
                _port_is_free(port + 10000):
            return port
    raise RuntimeError('no free port pair for a Redis cluster node')


def redis_server_executable():
    executable = shutil.which('redis-server')
    assert executable, "redis-server is not installed (apt-get install " \
                       "redis-server)"
    return executable


def wait_until_ready(process, client, what, timeout=10):
    """Ping `client` until it answers; fail if `process` exits first."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            code = process.poll()
            if code is not None:
                raise RuntimeError('%s exited with %d' % (what, code))
            try:
                client.ping()
                return
            except (redis.ConnectionError, redis.TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError('%s does not answer' % what)
                time.sleep(0.05)
    finally:
        client.close()


def stop_process(process):
    """Terminate `process` and wait for it to be gone."""
    if process is None or process.poll() is not None:
        return
    try:
        os.kill(process.pid, signal.SIGCONT)  # a paused one cannot end
    except ProcessLookupError:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class RedisServer(object):
    """A redis-server of the test's own, on a free loopback port, without
    persistence."""

    def __init__(self, directory):
        self.port = free_port()
        self.directory = directory
        self.process = None

    @property
    def url(self):
        return 'redis://127.0.0.1:%d/0' % self.port

    def client(self, **kwargs):
        return redis.Redis(host='127.0.0.1', port=self.port, **kwargs)

    def start(self):
        self.process = subprocess.Popen(
            [redis_server_executable(), '--port', str(self.port),
             '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
             '--dir', str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_ready(self.process,
                         self.client(socket_connect_timeout=0.2,
                                     socket_timeout=0.5),
                         'redis-server on port %d' % self.port)

    def pause(self):
        """Stop the server without ending it (SIGSTOP): connections are
        accepted by the kernel, nothing answers, the data stays, as in a
        network partition."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self):
        """Terminate the server and wait for it to be gone."""
        stop_process(self.process)
        self.process = None


def make_certificates(directory):
    """A certificate authority and a certificate for 127.0.0.1 signed by
    it; returns `(ca_file, cert_file, key_file)`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid = dict(not_valid_before=now - datetime.timedelta(minutes=5),
                 not_valid_after=now + datetime.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            'TracLearn test CA')])
    ca_cert = (x509.CertificateBuilder()
               .subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(valid['not_valid_before'])
               .not_valid_after(valid['not_valid_after'])
               .add_extension(x509.BasicConstraints(ca=True, path_length=0),
                              critical=True)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        '127.0.0.1')]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid['not_valid_before'])
            .not_valid_after(valid['not_valid_after'])
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(str(directory), name)
             for name in ('ca.crt', 'redis.crt', 'redis.key')]
    pem = serialization.Encoding.PEM
    with open(paths[0], 'wb') as f:
        f.write(ca_cert.public_bytes(pem))
    with open(paths[1], 'wb') as f:
        f.write(cert.public_bytes(pem))
    with open(paths[2], 'wb') as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return tuple(paths)


class RedisCluster(object):
    """Three redis-server nodes in cluster mode (primaries only, the 16384
    slots split between them), speaking TLS only and requiring `password`,
    as an ElastiCache cluster with in-transit encryption and an AUTH
    token."""

    SLOTS = 16384

    def __init__(self, directory, password, nodes=3):
        self.directory = directory
        self.password = password
        self.ports = []
        for _i in range(nodes):
            self.ports.append(free_cluster_port(self.ports))
        self.processes = {}
        self.ca_file, self.cert_file, self.key_file = \
            make_certificates(directory)

    @property
    def url(self):
        """The address of one node, as a configuration endpoint."""
        return 'rediss://127.0.0.1:%d/0' % self.ports[0]

    def client(self, port, **kwargs):
        """A plain (non-cluster) client of one node."""
        return redis.Redis(host='127.0.0.1', port=port, ssl=True,
                           ssl_ca_certs=self.ca_file,
                           password=self.password, **kwargs)

    def cluster_client(self):
        """A cluster client of the whole cluster."""
        from redis.cluster import RedisCluster as ClusterClient
        return ClusterClient(host='127.0.0.1', port=self.ports[0], ssl=True,
                             ssl_ca_certs=self.ca_file,
                             password=self.password)

    def start(self):
        for port in self.ports:
            node_dir = os.path.join(str(self.directory), str(port))
            os.makedirs(node_dir, exist_ok=True)
            self.processes[port] = subprocess.Popen(
                [redis_server_executable(), '--bind', '127.0.0.1',
                 '--port', '0', '--tls-port', str(port),
                 '--tls-cert-file', self.cert_file,
                 '--tls-key-file', self.key_file,
                 '--tls-ca-cert-file', self.ca_file,
                 '--tls-auth-clients', 'no', '--tls-cluster', 'yes',
                 '--requirepass', self.password,
                 '--masterauth', self.password,
                 '--cluster-enabled', 'yes',
                 '--cluster-config-file', 'nodes.conf',
                 '--cluster-node-timeout', '1000',
                 '--save', '', '--appendonly', 'no', '--dir', node_dir],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for port in self.ports:
            wait_until_ready(self.processes[port],
                             self.client(port, socket_timeout=0.5,
                                         socket_connect_timeout=0.2),
                             'cluster node on port %d' % port)
        self._create()

    def stop_node(self, port):
        stop_process(self.processes.pop(port, None))

    def stop(self):
        for port in list(self.processes):
            self.stop_node(port)

    def _create(self):
        """Give each node a third of the slots, introduce them, and wait
        for every node to see the cluster whole (`cluster_state:ok`)."""
        share = self.SLOTS // len(self.ports)
        clients = [self.client(port, socket_timeout=2) for port in self.ports]
        try:
            for n, client in enumerate(clients):
                last = self.SLOTS - 1 if n == len(clients) - 1 \
                    else (n + 1) * share - 1
                client.execute_command('CLUSTER', 'ADDSLOTSRANGE',
                                       n * share, last)
            for port in self.ports[1:]:
                clients[0].execute_command('CLUSTER', 'MEET', '127.0.0.1',
                                           port)
            deadline = time.monotonic() + 20
            while True:
                infos = [client.execute_command('CLUSTER', 'INFO')
                         for client in clients]
                texts = [info.decode() if isinstance(info, bytes) else
                         str(info) for info in infos]
                if all('cluster_state:ok' in text and
                       'cluster_known_nodes:%d' % len(clients) in text
                       for text in texts):
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError('the Redis cluster did not form: %s'
                                       % texts)
                time.sleep(0.1)
        finally:
            for client in clients:
                client.close()
