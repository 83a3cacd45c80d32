"""certs.py - a throw-away CA and server certificates, made with openssl

One set per test process, cached in a temporary directory that is removed
at exit.  EC P-256 keys: fast to make, accepted by every peer we use.
Never touches anything outside its own temporary directory.
"""

import atexit
import os
import shutil
import subprocess
import tempfile

_DIR = None
_CACHE = {}


def _openssl(*args, cwd):
    subprocess.run(['openssl', *args], cwd=cwd, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _workdir():
    global _DIR
    if _DIR is None:
        _DIR = tempfile.mkdtemp(prefix='mailout-certs-')
        atexit.register(shutil.rmtree, _DIR, True)
    return _DIR


def ca():
    """Return (ca_cert_path, ca_key_path) of the test CA."""
    if 'ca' in _CACHE:
        return _CACHE['ca']
    d = _workdir()
    _openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key', cwd=d)
    _openssl('req', '-x509', '-new', '-key', 'ca.key', '-days', '2', '-subj',
             '/CN=mailout test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
             '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem', cwd=d)
    _CACHE['ca'] = (os.path.join(d, 'ca.pem'), os.path.join(d, 'ca.key'))
    return _CACHE['ca']


def server(name='localhost', ips=('127.0.0.1', '::1'), extra_names=()):
    """Return (cert_path, key_path) for a server certificate signed by ca().

    The certificate names `name`, extra_names and the IP addresses ips in
    its subjectAltName, so peers may check it by name or by address."""
    key = ('server', name, tuple(ips), tuple(extra_names))
    if key in _CACHE:
        return _CACHE[key]
    ca_pem, ca_key = ca()
    d = _workdir()
    stem = 'srv%d' % len(_CACHE)
    san = ['DNS:' + n for n in (name, *extra_names)] + ['IP:' + i for i in ips]
    with open(os.path.join(d, stem + '.ext'), 'w') as f:
        f.write('subjectAltName=%s\n' % ','.join(san))
        f.write('extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n')
    _openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', stem + '.key', cwd=d)
    _openssl('req', '-new', '-key', stem + '.key', '-subj', '/CN=' + name,
             '-out', stem + '.csr', cwd=d)
    _openssl('x509', '-req', '-in', stem + '.csr', '-CA', ca_pem, '-CAkey', ca_key,
             '-CAcreateserial', '-days', '2', '-extfile', stem + '.ext',
             '-out', stem + '.pem', cwd=d)
    os.chmod(os.path.join(d, stem + '.key'), 0o644)  # the receiver may run unprivileged
    _CACHE[key] = (os.path.join(d, stem + '.pem'), os.path.join(d, stem + '.key'))
    return _CACHE[key]
