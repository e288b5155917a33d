package mail

// Test-only exports for the external benchmark package (mail_test).
var ForEachSpamAssassin = forEachSpamAssassin
