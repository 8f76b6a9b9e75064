//! Function scans: the rows of a set-returning function in FROM (or
//! lifted out of a select list), with WITH ORDINALITY numbering.

use super::{Ctx, Row};
use crate::error::Result;
use crate::func::srf;
use crate::planner::plan::Expr;
use crate::types::Value;

impl Ctx<'_> {
    /// Runs set-returning function `name` over `args` (evaluated against
    /// the outer row of a lateral call).
    pub async fn function_scan(
        &mut self,
        name: &str,
        args: &[Expr],
        ordinality: bool,
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        let mut rows = if srf::is_srf(name) {
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(self.eval_full(a, &[], outer).await?);
            }
            srf::rows(name, &values)?
        } else {
            self.table_function(name, args, outer).await?
        };
        if ordinality {
            for (i, r) in rows.iter_mut().enumerate() {
                r.push(Value::Int8(i as i64 + 1));
            }
        }
        Ok(rows)
    }
}
