#include "cli/init_plan.hpp"

#include <algorithm>
#include <cstdio>

#include "cli/address.hpp"
#include "keys/base64.hpp"

namespace mailtun::cli {

namespace {

// The name is also a file name (NAME.toml, NAME.key) and a systemd instance (mailtun@NAME), hence
// stricter than the configuration's own rule: no leading "." or "-".
constexpr std::size_t max_name_length = 64;
constexpr std::string_view name_rule = R"(1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit)";

bool valid_name(std::string_view name) {
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  return !name.empty() && name.size() <= max_name_length && alnum(name.front()) &&
         std::ranges::all_of(name, [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

Role other(Role role) { return role == Role::vps ? Role::office : Role::vps; }

std::string loopback(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

/// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::size_t line_of(std::string_view text, std::size_t offset) {
  return static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n')) + 1;
}

// -----------------------------------------------------------------------------------------------
// The configuration (DESIGN §7)

std::string forward_table(std::string_view comment, std::string_view service, std::uint16_t port,
                          std::string_view peer) {
  return "\n# " + std::string(comment) + "\n[[forward]]\nservice = " + toml_string(service) +
         "\nlisten = " + toml_string(loopback(port)) + "\npeer = " + toml_string(peer) + "\n";
}

std::string expose_table(std::string_view comment, std::string_view service, std::uint16_t port,
                         std::string_view peer) {
  return "\n# " + std::string(comment) + "\n[[expose]]\nservice = " + toml_string(service) +
         "\ntarget = " + toml_string(loopback(port)) + "\npeers = [" + toml_string(peer) + "]\n";
}

/// The [[peer]] table up to its public_key line, which is left for the caller.
std::string peer_heading(const InitPlan& plan) {
  const std::string other_role(to_string(other(plan.role)));
  return "\n[[peer]]\nname = " + toml_string(plan.peer_name) + "\n# The " + other_role +
         "'s public key: the line \"public key of " + plan.peer_name + ": …\" that `mailtun init --role " +
         other_role + "` printed there.\n";
}

std::string vps_config(const InitPlan& plan, std::string_view public_key_line) {
  std::string text = "# mailtun on the VPS, written by `mailtun init --role vps` (docs/configuration.md).\n"
                     "# Postfix here delivers to Dovecot in the office over LMTP and asks Dovecot's auth service\n"
                     "# about SMTP AUTH users; the office's MTA relays its outbound mail through this Postfix.\n"
                     "\n[interface]\nname = " + toml_string(plan.name) +
                     "\nprivate_key_file = " + toml_string(plan.key_path.string()) +
                     "\n# The office dials in here: allow this TCP port in the firewall.\nlisten = " +
                     toml_string(plan.listen) + "\n";
  text += peer_heading(plan);
  text += public_key_line;
  text += forward_table("Postfix delivers here: virtual_transport = lmtp:inet:" + loopback(lmtp_port), "lmtp",
                        lmtp_port, plan.peer_name);
  text += forward_table("Postfix asks here about SMTP AUTH users: smtpd_sasl_path = inet:" +
                            loopback(dovecot_auth_port),
                        "dovecot-auth", dovecot_auth_port, plan.peer_name);
  text += expose_table("The office's outbound mail, to Postfix's relay-only smtpd (master.cf " +
                           loopback(relay_target_port) + ").",
                       "relay", relay_target_port, plan.peer_name);
  return text;
}

std::string office_config(const InitPlan& plan, std::string_view public_key_line) {
  std::string text = "# mailtun in the office, written by `mailtun init --role office` (docs/configuration.md).\n"
                     "# Dovecot here serves LMTP and auth to Postfix on the VPS, and this office's MTA relays\n"
                     "# outbound mail through the VPS. The office only dials out: it needs no open port.\n"
                     "\n[interface]\nname = " + toml_string(plan.name) +
                     "\nprivate_key_file = " + toml_string(plan.key_path.string()) + "\n";
  text += peer_heading(plan);
  text += public_key_line;
  text += "endpoint = " + toml_string(plan.endpoint) + "\n";
  text += expose_table("Dovecot's LMTP, for Postfix on the VPS (dovecot: service lmtp, inet_listener " +
                           loopback(lmtp_port) + ").",
                       "lmtp", lmtp_port, plan.peer_name);
  text += expose_table("Dovecot's auth service, for SMTP AUTH on the VPS (dovecot: service auth, inet_listener " +
                           loopback(dovecot_auth_port) + ").",
                       "dovecot-auth", dovecot_auth_port, plan.peer_name);
  text += forward_table("This office's MTA relays outbound mail here: relayhost = [127.0.0.1]:" +
                            std::to_string(relay_forward_port),
                        "relay", relay_forward_port, plan.peer_name);
  return text;
}

// -----------------------------------------------------------------------------------------------
// The Postfix and Dovecot lines (DESIGN §1, §2)

std::vector<Snippet> vps_snippets(const InitPlan& plan) {
  const std::string role(to_string(plan.role));
  Snippet main_cf{
      "postfix main.cf (" + role + ")",
      "# Mailboxes live in Dovecot at the office: mail for the domains in virtual_mailbox_domains\n"
      "# (set it to your mail domains) goes over LMTP through mailtun. If instead local(8) delivers\n"
      "# the domains in mydestination, set mailbox_transport to this value.\n"
      "virtual_transport = lmtp:inet:" + loopback(lmtp_port) + "\n"
      "# SMTP AUTH asks Dovecot's auth service at the office (enabled for submission in master.cf).\n"
      "smtpd_sasl_type = dovecot\n"
      "smtpd_sasl_path = inet:" + loopback(dovecot_auth_port) + "\n"
      "# Mail from the Internet only for recipients Dovecot knows: Postfix asks it with an LMTP probe\n"
      "# and caches the answer; 550 makes an unknown address a final refusal (the default 450 retries).\n"
      "smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, "
      "reject_unauth_destination, reject_unverified_recipient\n"
      "unverified_recipient_reject_code = 550\n"};
  Snippet master_cf{
      "postfix master.cf (" + role + ")",
      "# Submission for users with SMTP AUTH (checked by Dovecot at the office), after STARTTLS only.\n"
      "submission inet n       -       -       -       -       smtpd\n"
      "  -o syslog_name=postfix/submission\n"
      "  -o smtpd_tls_security_level=encrypt\n"
      "  -o smtpd_tls_auth_only=yes\n"
      "  -o smtpd_sasl_auth_enable=yes\n"
      "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
      "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n"
      "  -o smtpd_recipient_restrictions=\n"
      "# The office's outbound mail, arriving through mailtun: loopback only, relays for loopback only.\n" +
          loopback(relay_target_port) + " inet n  -       -       -       -       smtpd\n"
      "  -o syslog_name=postfix/relay-in\n"
      "  -o mynetworks=127.0.0.0/8\n"
      "  -o smtpd_client_restrictions=permit_mynetworks,reject\n"
      "  -o smtpd_relay_restrictions=permit_mynetworks,reject\n"
      "  -o smtpd_recipient_restrictions=\n"
      "  -o smtpd_sasl_auth_enable=no\n"};
  return {main_cf, master_cf};
}

std::vector<Snippet> office_snippets(const InitPlan& plan) {
  const std::string role(to_string(plan.role));
  Snippet dovecot{
      "dovecot conf.d/99-mailtun.conf (" + role + ")",
      "# LMTP and auth for Postfix on the VPS, which reaches them through mailtun: loopback only.\n"
      "# LMTP needs Debian's dovecot-lmtpd package.\n"
      "service lmtp {\n"
      "  inet_listener lmtp {\n"
      "    address = 127.0.0.1\n"
      "    port = " + std::to_string(lmtp_port) + "\n"
      "  }\n"
      "}\n"
      "service auth {\n"
      "  inet_listener {\n"
      "    address = 127.0.0.1\n"
      "    port = " + std::to_string(dovecot_auth_port) + "\n"
      "  }\n"
      "}\n"};
  Snippet main_cf{"postfix main.cf (" + role + ")",
                  "# This office's outbound mail goes through the VPS (mailtun's forward \"relay\").\n"
                  "relayhost = [127.0.0.1]:" + std::to_string(relay_forward_port) + "\n"};
  return {dovecot, main_cf};
}

// -----------------------------------------------------------------------------------------------
// The report

std::string numbered(const std::vector<std::string>& steps) {
  std::string out;
  for (std::size_t i = 0; i < steps.size(); ++i) out += std::to_string(i + 1) + ". " + steps[i];
  return out;
}

std::string snippet_files(const InitPlan& plan) {
  std::string list;
  for (const Snippet& snippet : plan.snippets) list += (list.empty() ? "" : ", ") + snippet.title;
  return list;
}

/// The last step on either side, in the same words for both.
std::string check_and_start_step(const InitPlan& plan) {
  return "Check the configuration, then start mailtun now and at every boot:\n"
         "     mailtun check --config " + plan.config_path.string() + "\n"
         "     systemctl enable --now mailtun@" + plan.name + "\n";
}

std::vector<std::string> vps_steps(const InitPlan& plan, std::string_view public_key) {
  std::vector<std::string> steps;
  // A listener on one address tells the office where to dial; a wildcard does not.
  const auto listen = parse_socket_address(plan.listen);
  const std::string port = listen ? std::to_string(listen->port) : "7424";
  const std::string endpoint = listen && !listen->is_wildcard() ? listen->to_string() : "VPS_ADDRESS:" + port;
  if (plan.placeholder_line) {
    steps.push_back("On the office, run (VPS_ADDRESS: this VPS's public host name or IP address):\n"
                    "     mailtun init --role office --endpoint " + endpoint + " --peer-public-key " +
                    std::string(public_key) + "\n");
    steps.push_back("Paste the public key of " + plan.peer_name + ", which that prints, into\n   " +
                    plan.config_path.string() + " line " + std::to_string(*plan.placeholder_line) +
                    ", in place of the placeholder:\n"
                    "     public_key = \"…\"\n");
  } else {
    steps.push_back("On the office, paste the public key above into its configuration, in place of\n"
                    "   \"" + peer_key_placeholder(plan.name) + "\".\n");
  }
  steps.push_back("Allow incoming TCP port " + port + " in this VPS's firewall: the office dials in there.\n");
  steps.push_back("Add the lines below to /etc/postfix/main.cf and /etc/postfix/master.cf (replacing any\n"
                  "   submission service already there), set virtual_mailbox_domains, then run:\n"
                  "     postfix check && systemctl reload postfix\n");
  steps.push_back(check_and_start_step(plan));
  return steps;
}

std::vector<std::string> office_steps(const InitPlan& plan, std::string_view public_key) {
  std::vector<std::string> steps;
  if (plan.placeholder_line) {
    steps.push_back("Paste the VPS's public key (the line \"public key of " + plan.peer_name +
                    ": …\" that `mailtun init --role vps`\n   printed) into " + plan.config_path.string() + " line " +
                    std::to_string(*plan.placeholder_line) + ", in place of the placeholder:\n"
                    "     public_key = \"…\"\n");
  }
  steps.push_back("On the VPS, paste the public key above into its configuration, in place of\n"
                  "   \"" + peer_key_placeholder(plan.name) + "\"; or, if init has not run there yet:\n"
                  "     mailtun init --role vps --peer-public-key " + std::string(public_key) + "\n");
  steps.push_back("Save the Dovecot lines below as /etc/dovecot/conf.d/99-mailtun.conf, then run:\n"
                  "     systemctl restart dovecot\n");
  steps.push_back("If this office runs Postfix for its outbound mail, add its main.cf lines below to\n"
                  "   /etc/postfix/main.cf, then run:\n"
                  "     postfix check && systemctl reload postfix\n");
  steps.push_back(check_and_start_step(plan));
  return steps;
}

}  // namespace

std::string_view to_string(Role role) { return role == Role::vps ? "vps" : "office"; }

std::string peer_key_placeholder(std::string_view peer_name) {
  return "paste the public key of " + std::string(peer_name) + " here";
}

tl::expected<InitPlan, std::string> plan_init(const InitOptions& options) {
  InitPlan plan;
  plan.role = options.role;
  plan.name = options.name.empty() ? std::string(to_string(options.role)) : options.name;
  plan.peer_name = options.peer_name.empty() ? std::string(to_string(other(options.role))) : options.peer_name;
  if (!valid_name(plan.name)) return tl::unexpected("--name \"" + plan.name + "\": expected " + std::string(name_rule));
  if (!valid_name(plan.peer_name)) {
    return tl::unexpected("--peer-name \"" + plan.peer_name + "\": expected " + std::string(name_rule));
  }
  if (plan.name == plan.peer_name) {
    return tl::unexpected("--name and --peer-name are both \"" + plan.name + "\"; expected two different names");
  }
  if (options.dir.empty()) return tl::unexpected(std::string("--dir is empty; expected a directory such as /etc/mailtun"));

  if (options.role == Role::vps) {
    if (options.endpoint) {
      return tl::unexpected(std::string("--endpoint is for --role office (where the VPS is); the VPS dials "
                                        "nothing: expected --listen ADDRESS:PORT, if anything"));
    }
    plan.listen = options.listen.value_or(std::string(default_listen));
    if (const auto listen = parse_socket_address(plan.listen); !listen) {
      return tl::unexpected("--listen: " + listen.error());
    }
  } else {
    if (options.listen) {
      return tl::unexpected(std::string("--listen is for --role vps; the office only dials out and listens for "
                                        "no tunnel: expected --endpoint VPS_HOST:PORT"));
    }
    if (!options.endpoint) {
      return tl::unexpected(std::string("--role office needs --endpoint VPS_HOST:PORT, the VPS's public host "
                                        "name or address and its tunnel port, such as vps.example.org:7424"));
    }
    const auto endpoint = parse_host_port(*options.endpoint);
    if (!endpoint) return tl::unexpected("--endpoint: " + endpoint.error());
    plan.endpoint = endpoint->to_string();
  }

  std::string public_key_line;
  if (options.peer_public_key) {
    const auto key = keys::parse_public_key(*options.peer_public_key);
    if (!key) return tl::unexpected("--peer-public-key: " + key.error());
    public_key_line = "public_key = " + toml_string(keys::to_base64(key->bytes())) + "\n";
  } else {
    public_key_line = "public_key = " + toml_string(peer_key_placeholder(plan.peer_name)) + "\n";
  }

  plan.key_path = options.dir / (plan.name + ".key");
  plan.config_path = options.dir / (plan.name + ".toml");
  plan.config_text = plan.role == Role::vps ? vps_config(plan, public_key_line) : office_config(plan, public_key_line);
  if (!options.peer_public_key) plan.placeholder_line = line_of(plan.config_text, plan.config_text.find(public_key_line));
  plan.snippets = plan.role == Role::vps ? vps_snippets(plan) : office_snippets(plan);
  return plan;
}

std::string init_report(const InitPlan& plan, std::string_view public_key, std::string_view config_access) {
  std::string out = "mailtun init: wrote " + plan.key_path.string() + " (the private key of " + plan.name +
                    ", mode 0600: it never leaves this machine)\n";
  out += "mailtun init: wrote " + plan.config_path.string() + " (" + std::string(config_access) + ")\n";
  if (plan.placeholder_line) {
    out += "mailtun init: " + plan.config_path.string() + " line " + std::to_string(*plan.placeholder_line) +
           " waits for the public key of " + plan.peer_name + "; mailtun refuses to start until it is there\n";
  }
  const std::string role(to_string(plan.role));
  out += "\n# --- public key (" + role + ") ---\n";
  out += "public key of " + plan.name + ": " + std::string(public_key) + "\n";
  out += "\n# --- next steps (" + role + ") ---\n";
  out += numbered(plan.role == Role::vps ? vps_steps(plan, public_key) : office_steps(plan, public_key));
  out += "\nThe lines for " + snippet_files(plan) + " follow.\n";
  for (const Snippet& snippet : plan.snippets) out += "\n" + snippet.header() + "\n" + snippet.body;
  return out;
}

}  // namespace mailtun::cli
