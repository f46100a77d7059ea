"""A private Postfix (Debian's package) on loopback, for tests that need a real relay.

The instance lives entirely under one directory: its own main.cf and master.cf
(`postfix -c DIR`), queue, data, log file, a self-signed certificate for STARTTLS, a
Cyrus SASL password database for AUTH, and virtual mailboxes (maildirs) for the
domains it is told are local.  Nothing of the machine's own mail set-up is read or
changed; it runs as root (the test suite does) and drops to the `postfix` user as
Postfix always does.

    pf = Postfix(dir, port=16925, mailboxes=["li.wei@customer.example"],
                 users={"notify": "s3cret"}, bounce_to=("petrocs.example", 16926))
    pf.start()              # smtpd on 127.0.0.1:port: STARTTLS offered, AUTH only after it
    pf.delivered("li.wei@customer.example")   # parsed messages in that mailbox
    pf.stop()

Mail for an address in a local domain that has no mailbox is accepted at RCPT time
(smtpd_reject_unlisted_recipient = no) and then bounced by the virtual delivery agent:
a real, asynchronous non-delivery report.  bounce_to routes mail for a domain (the
sender's) to another SMTP server, so such a report reaches intake's mail gateway.
"""
import email
import email.policy
import os
import pwd
import shutil
import subprocess
import time

PORT_DEFAULT = 16925


def available():
    """Why Postfix cannot run here, or None when it can."""
    for tool in ("/usr/sbin/postfix", "/usr/sbin/saslpasswd2", "/usr/bin/openssl"):
        if not os.path.exists(tool):
            return f"{tool} is not installed (tools/deps --test installs postfix and sasl2-bin)"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "no postfix user (the Debian package creates it)"
    if os.geteuid() != 0:
        return "a private Postfix instance must be started as root"
    return None


class Postfix:
    def __init__(self, root, port=PORT_DEFAULT, domains=("customer.example",), mailboxes=(),
                 users=None, bounce_to=None, hostname="relay.petrocs.test"):
        self.root = os.path.abspath(root)
        self.port = port
        self.domains = list(domains)
        self.mailboxes = list(mailboxes)
        self.users = dict(users or {})
        self.bounce_to = bounce_to
        self.hostname = hostname
        self.conf = os.path.join(self.root, "etc")
        self.queue = os.path.join(self.root, "queue")
        self.data = os.path.join(self.root, "data")
        self.vmail = os.path.join(self.root, "vmail")
        self.log = os.path.join(self.root, "maillog")
        self.cert = os.path.join(self.conf, "cert.pem")
        self.started = False
        self._configure()

    # ---- configuration ---------------------------------------------------------------

    def _configure(self):
        if os.path.exists(self.root):
            shutil.rmtree(self.root)
        for d in (self.conf, self.queue, self.data, self.vmail,
                  os.path.join(self.conf, "sasl")):
            os.makedirs(d)
        pf = pwd.getpwnam("postfix")
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        os.chown(self.vmail, pf.pw_uid, pf.pw_gid)
        # a certificate for 127.0.0.1, which is what clients connect to
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", os.path.join(self.conf, "key.pem"), "-out", self.cert],
                       check=True, capture_output=True)
        # AUTH: Cyrus SASL's own password database, read by smtpd in-process
        sasldb = os.path.join(self.root, "sasldb2")
        for user, password in self.users.items():
            subprocess.run(["saslpasswd2", "-f", sasldb, "-c", "-p", "-u", self.hostname, user],
                           input=password.encode(), check=True)
        if os.path.exists(sasldb):
            os.chown(sasldb, pf.pw_uid, pf.pw_gid)
            os.chmod(sasldb, 0o600)
        with open(os.path.join(self.conf, "sasl", "smtpd.conf"), "w") as f:
            f.write(f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                    f"sasldb_path: {sasldb}\nmech_list: PLAIN LOGIN\n")
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            for addr in self.mailboxes:
                f.write(f"{addr} {addr.split('@')[1]}/{addr.split('@')[0]}/\n")
        with open(os.path.join(self.conf, "transport"), "w") as f:
            if self.bounce_to:
                domain, port = self.bounce_to
                f.write(f"{domain} smtp:[127.0.0.1]:{port}\n")
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "myhostname": self.hostname,
            "mydomain": "petrocs.test",
            "mydestination": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "maillog_file": self.log,
            "maillog_file_prefixes": self.root,
            "relayhost": "",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "default_transport": "error:no outside mail from a test relay",
            "transport_maps": f"texthash:{self.conf}/transport",
            "virtual_mailbox_domains": " ".join(self.domains),
            "virtual_mailbox_maps": f"texthash:{self.conf}/vmailbox",
            "virtual_mailbox_base": self.vmail,
            "virtual_uid_maps": f"static:{pf.pw_uid}",
            "virtual_gid_maps": f"static:{pf.pw_gid}",
            "smtpd_reject_unlisted_recipient": "no",
            "smtpd_tls_cert_file": self.cert,
            "smtpd_tls_key_file": os.path.join(self.conf, "key.pem"),
            "smtpd_tls_security_level": "may",
            "smtpd_tls_auth_only": "yes",
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "cyrus",
            "smtpd_sasl_path": "smtpd",
            "cyrus_sasl_config_path": os.path.join(self.conf, "sasl"),
            "smtpd_sasl_local_domain": self.hostname,
            "smtpd_relay_restrictions": "permit_sasl_authenticated, reject_unauth_destination",
            "smtpd_recipient_restrictions": "permit_sasl_authenticated, reject",
            "smtp_tls_security_level": "none",
            "smtputf8_enable": "no",
            "biff": "no",
            "delay_warning_time": "0",
            "bounce_queue_lifetime": "0",
            "maximal_queue_lifetime": "1h",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "alternate_config_directories": self.conf,
        }
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write(f"{k} = {v}\n")
        services = [
            f"127.0.0.1:{self.port} inet n - n - - smtpd",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "virtual unix - n n - - virtual",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("\n".join(services) + "\n")

    # ---- running -----------------------------------------------------------------------

    def _postfix(self, *args, check=True):
        # postfix(1) reports its errors to syslog, and to stderr only when that is a
        # terminal: script(1) gives it one, so a failure says why.
        cmd = " ".join(["/usr/sbin/postfix", "-c", self.conf, *args])
        return subprocess.run(["script", "-qec", cmd, "/dev/null"], check=check,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def start(self):
        res = self._postfix("start", check=False)
        if res.returncode != 0:
            raise AssertionError(f"postfix start failed: {res.stderr}{res.stdout}"
                                 f"\n{self.log_text()[-2000:]}")
        self.started = True
        deadline = time.time() + 20
        import socket
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"220"):
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("postfix did not answer on its port\n" + self.log_text()[-2000:])

    def stop(self):
        if self.started:
            self._postfix("stop", check=False)
            # master exits asynchronously; wait for its pid file to go
            pid = os.path.join(self.queue, "pid", "master.pid")
            deadline = time.time() + 20
            while os.path.exists(pid) and time.time() < deadline:
                time.sleep(0.1)
            self.started = False

    def flush(self):
        """Ask the queue manager to retry deferred mail now."""
        self._postfix("flush", check=False)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ---- what it delivered ---------------------------------------------------------

    def delivered(self, addr):
        """Messages delivered to addr's mailbox, parsed, oldest first, with .raw bytes."""
        local, domain = addr.split("@")
        new = os.path.join(self.vmail, domain, local, "new")
        out = []
        if os.path.isdir(new):
            for name in sorted(os.listdir(new)):
                with open(os.path.join(new, name), "rb") as f:
                    raw = f.read()
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                msg.raw = raw
                out.append(msg)
        return out
