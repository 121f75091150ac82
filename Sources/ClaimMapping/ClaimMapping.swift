// ClaimMapping module
