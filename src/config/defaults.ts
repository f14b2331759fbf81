/**
 * The built-in configuration `tallyd serve` runs without --config: the example
 * metrics of Dovecot's statistics documentation.
 */
export const DEFAULT_CONFIG_FILE = '<default>';

export const DEFAULT_CONFIG_TEXT = `# tallyd built-in configuration
listen = 127.0.0.1:9900

metric auth_success {
  filter = event=auth_request_finished AND success=yes
  description = successful authentications
}

metric auth_failures {
  filter = event=auth_request_finished AND NOT success=yes
  description = failed authentications
}

metric login_domains {
  filter = event=auth_request_finished
  group_by = user:discrete:%L{domain}
  description = authentications per user domain
}

metric imap_command {
  filter = event=imap_command_finished
  fields = net_in_bytes net_out_bytes
  group_by = cmd_name tagged_reply_state
  description = IMAP commands
}

metric imap_select_no {
  filter = event=imap_command_finished AND cmd_name=SELECT AND \\
    tagged_reply_state=NO
  description = failed IMAP SELECT commands
}

metric smtp_command {
  filter = event=smtp_server_command_finished
  group_by = cmd_name status_code duration:exponential:1:5:10
  description = SMTP commands
}

metric mail_delivery {
  filter = event=mail_delivery_finished
  group_by = duration:exponential:1:5:10
  description = mail deliveries
}
`;
