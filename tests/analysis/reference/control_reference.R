# Reference run lengths of the one-sided (reflected at 0) EWMA chart, by R package spc
# (Debian r-cran-spc).  Regenerate: Rscript tests/analysis/reference/control_reference.R
# Output: tests/analysis/reference/control_reference.csv, compared by tests/analysis/test_control.py.
library(spc)
out <- data.frame()
for (l in c(0.05, 0.1, 0.2, 0.3)) {
  crit <- xewma.crit(l, 250, sided = "one", zr = 0)
  for (mu in c(0, 0.25, 0.5, 0.8856149, 1.0, 1.252449, 2.0)) {
    out <- rbind(out, data.frame(
      lambda = l, crit = crit, mu = mu,
      arl = xewma.arl(l, crit, mu, sided = "one", zr = 0),
      q90 = xewma.q(l, crit, mu, 0.9, sided = "one", zr = 0),
      q50 = xewma.q(l, crit, mu, 0.5, sided = "one", zr = 0)))
  }
}
out$spc_version <- as.character(packageVersion("spc"))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(sub("^--file=", "", args[grep("^--file=", args)]))
write.csv(out, file.path(here, "control_reference.csv"), row.names = FALSE)
