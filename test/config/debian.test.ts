import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatConfig, loadConfigFile } from '../../src/config/index.js';
import { tempTree } from './helpers.js';

const DOVECOT_CONF = `## Dovecot configuration file

# If you're in a hurry, see http://wiki2.dovecot.org/QuickConfiguration

# Enable installed protocols
!include_try protocols.d/*.protocol
protocols = imap lmtp

# A comma separated list of IPs or hosts where to listen in for connections.
listen = *, ::

#base_dir = /var/run/dovecot/
#login_greeting = Dovecot ready.

dict {
  #quota = mysql:/etc/dovecot/dovecot-dict-sql.conf.ext
}

# Most of the actual configuration gets included below.
!include conf.d/*.conf

# A config file can also tried to be included without giving an error if
# it's not found:
!include_try local.conf
`;

const FILES: Record<string, string> = {
  'dovecot.conf': DOVECOT_CONF,
  'conf.d/10-auth.conf': `##
## Authentication processes
##
#disable_plaintext_auth = yes
auth_mechanisms = plain login

!include auth-system.conf.ext
#!include auth-sql.conf.ext
`,
  'conf.d/auth-system.conf.ext': `# Authentication for system users.
passdb {
  driver = pam
  # [session=yes] [setcred=yes] [failure_show_msg=yes] [max_requests=<n>]
  #args = dovecot
}

userdb {
  # <doc/wiki/AuthDatabase.Passwd.txt>
  driver = passwd
}
`,
  'conf.d/10-mail.conf': `mail_location = mbox:~/mail:INBOX=/var/mail/%u
namespace inbox {
  #type = private
  inbox = yes
}
mail_privileged_group = mail
protocol !indexer-worker {
  #mail_vsize_bg_after_count = 0
}
`,
  'conf.d/10-master.conf': `service imap-login {
  inet_listener imap {
    #port = 143
  }
  inet_listener imaps {
    #port = 993
    #ssl = yes
  }
}

service auth {
  unix_listener auth-userdb {
    #mode = 0666
  }
}
`,
  'conf.d/10-ssl.conf': `ssl = yes
ssl_cert = </etc/dovecot/private/dovecot.pem
ssl_key = </etc/dovecot/private/dovecot.key
`,
  'conf.d/15-mailboxes.conf': `namespace inbox {
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox "Sent Messages" {
    special_use = \\Sent
  }
}
`,
  'conf.d/20-imap.conf': `protocol imap {
  mail_plugins = $mail_plugins imap_zlib
}
`,
  'conf.d/90-stats.conf': `# tallyd reads this file too
metric imap_command {
  filter = event=imap_command_finished
  fields = net_in_bytes net_out_bytes
  group_by = cmd_name tagged_reply_state
  description = IMAP commands
}

metric smtp_command {
  filter = event=smtp_server_command_finished AND \\
           (cmd_name=MAIL OR cmd_name=RCPT)
  group_by = cmd_name status_code duration:exponential:1:5:10
}

metric mail_delivery {
  filter = event=mail_delivery_finished
  group_by duration {
    method exponential {
      min_magnitude = 1
      max_magnitude = 5
      base = 10
    }
  }
}

service stats {
  inet_listener http {
    port = 9900
  }
}
`,
};

describe('a Debian-style dovecot.conf with conf.d/90-stats.conf', () => {
  it('loads the metrics and warns once per Dovecot setting or block', () => {
    const dir = tempTree(FILES);
    const cfg = loadConfigFile(join(dir, 'dovecot.conf'));
    expect(cfg.metrics.map((m) => m.name)).toEqual(['imap_command', 'smtp_command', 'mail_delivery']);
    expect(cfg.metrics[1]?.filter).toBe('event=smtp_server_command_finished AND (cmd_name=MAIL OR cmd_name=RCPT)');
    expect(cfg.metrics[1]?.groupBy[2]).toEqual({ kind: 'exponential', field: 'duration', min: 1, max: 5, base: 10 });
    expect(cfg.metrics[2]?.groupBy).toEqual([{ kind: 'exponential', field: 'duration', min: 1, max: 5, base: 10 }]);
    expect(cfg.metrics[0]?.pos).toEqual({ file: join(dir, 'conf.d/90-stats.conf'), line: 2, col: 8 });
    expect(cfg.settings.listen).toEqual({ host: '127.0.0.1', port: 9900 });

    const shown = cfg.warnings.map((w) => `${basename(w.pos.file)}:${w.pos.line}:${w.pos.col}: ${w.message.split(' ').slice(0, 2).join(' ')}`);
    expect(shown).toEqual([
      "dovecot.conf:7:1: 'protocols' is",
      'dovecot.conf:10:1: listen =',
      "dovecot.conf:15:1: block 'dict'",
      "10-auth.conf:5:1: 'auth_mechanisms' is",
      "auth-system.conf.ext:2:1: block 'passdb'",
      "auth-system.conf.ext:8:1: block 'userdb'",
      "10-mail.conf:1:1: 'mail_location' is",
      "10-mail.conf:2:1: block 'namespace",
      "10-mail.conf:6:1: 'mail_privileged_group' is",
      "10-mail.conf:7:1: block 'protocol",
      "10-master.conf:1:1: block 'service",
      "10-master.conf:11:1: block 'service",
      "10-ssl.conf:1:1: 'ssl' is",
      "10-ssl.conf:2:1: 'ssl_cert' is",
      "10-ssl.conf:3:1: 'ssl_key' is",
      "15-mailboxes.conf:1:1: block 'namespace",
      "20-imap.conf:1:1: block 'protocol",
      "90-stats.conf:26:1: block 'service",
    ]);
    expect(cfg.warnings[9]?.message).toBe("block 'protocol !indexer-worker' is Dovecot configuration tallyd does not use: ignored");
  });

  it('check-config lists settings, metrics and warnings', () => {
    const dir = tempTree(FILES);
    const text = formatConfig(loadConfigFile(join(dir, 'dovecot.conf')));
    expect(text).toContain('listen = 127.0.0.1:9900\n');
    expect(text).toContain(
      [
        'metric imap_command {',
        `  # defined at ${join(dir, 'conf.d/90-stats.conf')}:2:8`,
        '  filter = event=imap_command_finished',
        '  fields = net_in_bytes net_out_bytes',
        '  group_by = cmd_name tagged_reply_state',
        '  description = IMAP commands',
        '}',
      ].join('\n'),
    );
    expect(text).toContain('  group_by = duration:exponential:1:5:10\n');
    expect(text).toContain(`${join(dir, 'conf.d/10-ssl.conf')}:2:1: warning: 'ssl_cert' is a Dovecot setting tallyd does not use: ignored\n`);
  });
});
