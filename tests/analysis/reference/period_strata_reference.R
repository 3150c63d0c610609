# Reference values from R `survey` for tests/analysis/test_period_strata.py: a trend or a change estimated with
# strata = service point × period (docs/methodology-design.md, "One period, one interval").
#   cd tests/analysis/reference && Rscript period_strata_reference.R     (writes period_strata_reference.csv)
# Data: unit_data.csv (make_unit_dataset.py), two months.  Designs (lonely.psu = "adjust"):
# - split: svydesign(ids=~1, strata=~interaction(service_point, month), weights=~weight) on both months;
# - alone: svydesign(ids=~1, strata=~service_point, weights=~weight) on one month's respondents only.
# Rows: "change" = 2026-02 − 2026-01 per agency in the split design (nonlinear svycontrast of the
# svyby(~agency + month) totals, covmat = TRUE) with df = degf of the split design restricted to the agency;
# "split" = each (agency, month) in the split design; "alone" = each agency in its month's own design.
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
d <- read.csv("unit_data.csv", stringsAsFactors = FALSE)
items <- paste0("Q", 1:6)
for (q in items) {
  a <- !is.na(d[[q]])
  d[[paste0("s_", q)]] <- as.numeric(a & d[[q]] >= 4)
  d[[paste0("a_", q)]] <- as.numeric(a)
  d[[paste0("v_", q)]] <- ifelse(a, d[[q]], 0)
}
d$sp_month <- paste(d$service_point, d$month)
vars <- c(rbind(paste0("s_", items), paste0("a_", items), paste0("v_", items)))
tot_f <- as.formula(paste("~", paste(vars, collapse = "+")))
tot <- function(ps, v) paste0("(", paste0("`", ps, v, "`", collapse = "+"), ")")
rat <- function(ps, q, kind = "s") paste0(tot(ps, paste0(kind, "_", q)), "/", tot(ps, paste0("a_", q)))
measure <- function(ps, m) {
  switch(m,
    Q1 = rat(ps, "Q1"), "Q1:mean" = rat(ps, "Q1", "v"),
    overall = paste0("((", paste(sapply(items[1:3], function(q) rat(ps, q)), collapse = "+"), ")/3 + (",
                     paste(sapply(items[4:6], function(q) rat(ps, q)), collapse = "+"), ")/3)/2"))
}
out <- list()
add <- function(kind, measure, agency, month, cc, df = NA) {
  out[[length(out) + 1]] <<- data.frame(kind = kind, measure = measure, agency = agency, month = month,
    estimate = sprintf("%.17g", coef(cc)), se = sprintf("%.17g", SE(cc)), df = df)
}
agencies <- sort(unique(d$agency))
months <- sort(unique(d$month))
split <- svydesign(ids = ~1, strata = ~sp_month, weights = ~weight, data = d)
am <- svyby(tot_f, ~agency + month, split, svytotal, covmat = TRUE)
for (m in c("Q1", "Q1:mean", "overall")) for (v in agencies) {
  e <- paste0(measure(paste0(v, ".", months[2], ":"), m), " - (", measure(paste0(v, ".", months[1], ":"), m), ")")
  add("change", m, v, paste(months[2], "-", months[1]), svycontrast(am, list(x = parse(text = e)[[1]])),
      degf(subset(split, agency == v)))
  for (p in months)
    add("split", m, v, p, svycontrast(am, list(x = parse(text = measure(paste0(v, ".", p, ":"), m))[[1]])))
}
for (p in months) {
  alone <- svydesign(ids = ~1, strata = ~service_point, weights = ~weight, data = d[d$month == p, ])
  ag <- svyby(tot_f, ~agency, alone, svytotal, covmat = TRUE)
  for (m in c("Q1", "Q1:mean", "overall")) for (v in agencies)
    add("alone", m, v, p, svycontrast(ag, list(x = parse(text = measure(paste0(v, ":"), m))[[1]])))
}
res <- do.call(rbind, out)
write.csv(res, "period_strata_reference.csv", row.names = FALSE, quote = FALSE)
cat(nrow(res), "reference rows, survey", as.character(packageVersion("survey")), "\n")
